/**
 * Printing benchmark figures: aligned rows of name and value, and one line per target saying
 * plainly whether it was met. A missed target is reported, never turned into a failing exit
 * code: timings on a shared machine are evidence, not a gate.
 */
import { availableParallelism } from 'node:os';

export const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

export const perSecond = (count: number, ms: number): number => (count / ms) * 1000;

export function rate(count: number, ms: number, unit: string): string {
  return `${Math.round(perSecond(count, ms)).toLocaleString('en-US')} ${unit}/s`;
}

export function mbPerSecond(bytes: number, ms: number): string {
  return `${(perSecond(bytes, ms) / 1024 / 1024).toFixed(1)} MB/s`;
}

export function heading(title: string): void {
  console.log(`\n== ${title}`);
}

export function row(name: string, ...values: (string | number)[]): void {
  console.log(`  ${name.padEnd(40)} ${values.map(String).join('  ')}`);
}

export interface Target {
  name: string;
  met: boolean;
  measured: string;
  wanted: string;
}

export function printTargets(targets: Target[]): void {
  heading('targets');
  for (const target of targets) {
    const verdict = target.met ? 'MET   ' : 'MISSED';
    console.log(`  ${verdict} ${target.name}: ${target.measured} (target ${target.wanted})`);
  }
}

export function machine(): string {
  const cores = availableParallelism();

  return `node ${process.version}, ${process.platform}/${process.arch}, ${cores} cores`;
}
