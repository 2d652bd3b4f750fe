/** Memory figures the benchmarks report. */
import { readFileSync } from 'node:fs';

/** Peak RSS (VmHWM) of another process from /proc, in MiB (Linux only); undefined where unreadable. */
export function procPeakRssMiB(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const match = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}
