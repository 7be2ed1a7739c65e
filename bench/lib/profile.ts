/**
 * CPU profiles of exactly the timed part of a run (not the data generation around it),
 * through the inspector protocol, written as `.cpuprofile` files that Chrome DevTools
 * opens, plus a short summary of where the main thread spent its time: self time per
 * function and total time per source file.
 */
import { writeFile, mkdir } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

/** Runs `work` under the profiler when `dir` is set; writes `<dir>/<name>.cpuprofile`. */
export async function profiled<T>(
  dir: string | undefined,
  name: string,
  work: () => Promise<T>,
): Promise<T> {
  if (!dir) return work();

  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 500 });
  await session.post('Profiler.start');
  try {
    return await work();
  } finally {
    const { profile } = (await session.post('Profiler.stop')) as { profile: CpuProfile };
    session.disconnect();
    await mkdir(dir, { recursive: true });
    const path = join(dir, `${name}.cpuprofile`);
    await writeFile(path, JSON.stringify(profile));
    console.log(`\n-- profile of ${name}: ${path}\n${summarise(profile)}`);
  }
}

const shortUrl = (url: string): string =>
  url.replace(/^file:\/\/.*?\/(node_modules\/|(?=[a-z-]+\/[^/]+\.ts$))/, '$1') || '(native)';

/** The functions with the most self time, and the source files with the most. */
export function summarise(profile: CpuProfile, top = 25): string {
  const totalUs = profile.endTime - profile.startTime;
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  const selfUs = new Map<number, number>();
  for (let i = 0; i < samples.length; i += 1) {
    selfUs.set(samples[i]!, (selfUs.get(samples[i]!) ?? 0) + (deltas[i + 1] ?? deltas[i] ?? 0));
  }

  const byFunction = new Map<string, number>();
  const byFile = new Map<string, number>();
  for (const node of profile.nodes) {
    const us = selfUs.get(node.id) ?? 0;
    if (us === 0) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const file = shortUrl(url);
    const key = `${functionName || '(anonymous)'}  ${file}:${lineNumber + 1}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + us);
    byFile.set(file, (byFile.get(file) ?? 0) + us);
  }

  const lines = (map: Map<string, number>): string[] =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([key, us]) => `  ${((us / totalUs) * 100).toFixed(1).padStart(5)}%  ${key}`);

  return [
    `main thread, ${(totalUs / 1e6).toFixed(2)} s profiled; self time by function:`,
    ...lines(byFunction),
    'self time by file:',
    ...lines(byFile).slice(0, 12),
  ].join('\n');
}
