/**
 * Logging: pino, JSON lines on stdout. Context object first, message second, errors under
 * `err`. Header values that carry credentials are redacted wherever they appear.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { service: 'aletheia' },
    redact: {
      paths: [
        '*.authorization',
        '*.headers.authorization',
        '*.headers.cookie',
        '*.apiKey',
        '*.secret',
      ],
      censor: '[redacted]',
    },
    serializers: { err: pino.stdSerializers.errWithCause },
  };

  return destination ? pino(options, destination) : pino(options);
}

/** A logger that writes nothing, for tests and benchmarks. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
