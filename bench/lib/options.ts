/**
 * Benchmark sizes from the command line or the environment: `--rows 100000` or
 * `--rows=100000`, else `BENCH_ROWS=100000`, else the default. Names are kebab-case on the
 * command line and upper snake case with a BENCH_ prefix in the environment.
 */

export function flag(name: string): string | undefined {
  const args = process.argv.slice(2);
  for (let i = 0; i < args.length; i += 1) {
    const arg = args[i]!;
    if (arg === `--${name}`) return args[i + 1];
    if (arg.startsWith(`--${name}=`)) return arg.slice(name.length + 3);
  }

  return process.env[envName(name)];
}

export function intOption(name: string, fallback: number): number {
  const value = flag(name);
  if (value === undefined) return fallback;

  const parsed = Number(value.replaceAll('_', ''));
  if (!Number.isSafeInteger(parsed) || parsed <= 0) {
    throw new Error(`--${name}: expected a positive integer, got '${value}'`);
  }

  return parsed;
}

export function stringOption(name: string, fallback: string): string {
  return flag(name) ?? fallback;
}

export function boolOption(name: string): boolean {
  return process.argv.includes(`--${name}`) || process.env[envName(name)] === '1';
}

function envName(name: string): string {
  return `BENCH_${name.toUpperCase().replaceAll('-', '_')}`;
}
