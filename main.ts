/**
 * Command-line entry: `node main.ts [--demo]`. Reads the configuration from the environment,
 * starts the whole system in this process and stops it cleanly on SIGINT or SIGTERM.
 */
import { parseArgs } from 'node:util';

import { startApp, type App } from './app.ts';
import { startSampleSources, type SampleSources } from './demo/server.ts';
import { describeConfig, loadConfig, type Config } from './runtime/config.ts';
import { isAletheiaError } from './runtime/errors.ts';
import { createLogger } from './runtime/log.ts';

/** Longest a clean stop may take before the process exits anyway. */
const stopTimeoutMs = 20_000;

const usage = `Usage: node main.ts [--demo] [--help]

  --demo   replay the sample feeds and entities in demo/ instead of the real sources
  --help   show this text and the configuration variables

Configuration (environment variables):
${describeConfig()
  .map(({ variable, description }) => `  ${variable.padEnd(38)} ${description}`)
  .join('\n')}
`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      demo: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(usage);

    return;
  }

  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (!isAletheiaError(err, 'CONFIG_INVALID')) throw err;
    process.stderr.write(`${err.message}\nRun with --help for the list of variables.\n`);
    process.exitCode = 2;

    return;
  }

  const log = createLogger(config.logLevel);
  let samples: SampleSources | undefined;
  if (values.demo || config.demo) {
    samples = await startSampleSources();
    config = {
      ...config,
      feeds: samples.feedUrls,
      wikidataApiUrl: samples.wikidataApiUrl,
      trackedEntities: samples.trackedEntities,
      allowedHosts: [...config.allowedHosts, samples.host],
      feedPollIntervalMs: Math.min(config.feedPollIntervalMs, 30_000),
      dataDir: process.env.ALETHEIA_DATA_DIR ? config.dataDir : './data/demo',
    };
    log.info({ feeds: samples.feedUrls }, 'demo mode: replaying the bundled sample sources');
  }

  let app: App;
  try {
    app = await startApp(config, log);
  } catch (err) {
    log.fatal({ err }, 'failed to start');
    await samples?.close();
    process.exitCode = 1;

    return;
  }

  const shutdown = async (signal: string): Promise<void> => {
    log.info({ signal }, 'stopping');
    const timer = setTimeout(() => {
      log.error({ timeoutMs: stopTimeoutMs }, 'clean stop took too long; exiting');
      process.exit(1);
    }, stopTimeoutMs);
    timer.unref();

    await app.stop();
    await samples?.close();
    log.info('stopped');
    // Everything is drained and closed; a library timer left behind must not keep the
    // process alive until the stop timeout.
    process.exit();
  };
  process.once('SIGINT', (signal) => void shutdown(signal));
  process.once('SIGTERM', (signal) => void shutdown(signal));
}

await main();
