// CPU accounting around a run, from /proc: how much CPU the whole machine spent, how much MinIO
// spent, so that CPU used by anything else (another test suite on the same machine) shows up as
// "other" and a disturbed run is flagged rather than silently published.
import { readdirSync, readFileSync } from 'node:fs';

/** USER_HZ: Linux reports /proc times in 1/100 s on every mainstream architecture. */
const CLK_TCK = 100;

/** Busy CPU seconds of the whole machine since boot (all CPUs): everything but idle and iowait. */
export function machineBusySeconds(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already in user)
  const busy = (f[0] ?? 0) + (f[1] ?? 0) + (f[2] ?? 0) + (f[5] ?? 0) + (f[6] ?? 0) + (f[7] ?? 0);
  return busy / CLK_TCK;
}

/** user + system CPU seconds of a live process (itself, not its children), or undefined. */
export function processCpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 of proc(5) are at 11 and 12 after the ")".
    return (Number(f[11]) + Number(f[12])) / CLK_TCK;
  } catch {
    return undefined;
  }
}

/** The pid of a process whose command line contains every one of `parts`, if there is one. */
export function findProcess(parts: readonly string[]): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (parts.every((p) => cmdline.includes(p))) return Number(entry);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

export interface CpuMark {
  machine: number;
  minio: number;
  self: number;
  at: number;
}

export function cpuMark(minioPid: number | undefined): CpuMark {
  const own = process.cpuUsage();
  return {
    machine: machineBusySeconds(),
    minio: minioPid === undefined ? 0 : (processCpuSeconds(minioPid) ?? 0),
    self: (own.user + own.system) / 1e6,
    at: performance.now(),
  };
}

/** CPU seconds spent between two marks by the machine, MinIO, this process, and what is left. */
export function cpuBetween(a: CpuMark, b: CpuMark): { machine: number; minio: number; orchestrator: number; seconds: number } {
  return { machine: b.machine - a.machine, minio: b.minio - a.minio, orchestrator: b.self - a.self, seconds: (b.at - a.at) / 1000 };
}

/**
 * Waits until the machine is quiet: a one-second window in which processes other than this one
 * and MinIO use less than `thresholdCores` of CPU. Gives up after `maxWaitMs` (returns quiet=false).
 */
export async function waitForQuiet(
  minioPid: number | undefined,
  maxWaitMs: number,
  thresholdCores = 0.15,
): Promise<{ quiet: boolean; waitedMs: number; otherCores: number }> {
  const started = performance.now();
  for (;;) {
    const a = cpuMark(minioPid);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const d = cpuBetween(a, cpuMark(minioPid));
    const otherCores = Math.max(0, d.machine - d.minio - d.orchestrator) / d.seconds;
    const waitedMs = performance.now() - started;
    if (otherCores < thresholdCores) return { quiet: true, waitedMs, otherCores };
    if (waitedMs >= maxWaitMs) return { quiet: false, waitedMs, otherCores };
  }
}
