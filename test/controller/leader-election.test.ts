// Leader election between real controller processes, as an SRE sees it: the Lease object in
// saasbackup-system, /readyz, the leader metric, Events and status on the objects, and how
// replicas hand over after SIGKILL, on SIGTERM, and when the Lease is taken from a leader.
import { beforeAll, describe, expect, it } from 'vitest';
import { kubeRequest } from '../../src/runtime/kube-request.ts';
import { leasesResource, objectPath } from '../../src/runtime/resource.ts';
import { formatMicroTime } from '../../src/runtime/time-format.ts';
import type { ControllerProcess, LogLine } from '../support/controller-process.ts';
import { eventually } from '../support/kube.ts';
import {
  controllerSuite,
  FAST_LEASE,
  LEASE_NAMESPACE,
  connectorEvents,
  createConnectorWithSecret,
  linesAbout,
  metricValue,
  readLease,
  samplesOf,
  scrape,
  waitForConnectorReady,
  waitForHolder,
  type LeaseObject,
} from './support.ts';

interface Timings {
  leaseDurationSeconds: number;
  renewDeadlineSeconds: number;
  retryPeriodSeconds: number;
}

const becameLeader =
  (identity: string) =>
  (line: LogLine): boolean =>
    line.msg === 'became leader; reconciling' && line['identity'] === identity;

/** Lease MicroTime (`...T02:13:38.123456Z`) in epoch milliseconds. */
function microTimeMs(value: string | undefined): number {
  if (value === undefined) throw new Error('Lease time is missing');
  const ms = Date.parse(value.replace(/\.(\d{3})\d*Z$/, '.$1Z'));
  if (Number.isNaN(ms)) throw new Error(`not a MicroTime: ${value}`);
  return ms;
}

describe('leader election between controller processes', () => {
  const suite = controllerSuite('leader-election');
  const { admin, fleet } = suite;
  let kubeconfigPath: string;
  let namespace: string;

  beforeAll(() => {
    kubeconfigPath = suite.kubeconfigPath();
    namespace = suite.namespace();
  });

  const newLease = suite.newLease;

  function replica(identity: string, leaseName: string, timings: Timings = FAST_LEASE): ControllerProcess {
    return fleet.start({ kubeconfigPath, identity, leaseNamespace: LEASE_NAMESPACE, leaseName, ...timings });
  }

  /** Starts replicas a and b on one Lease; resolves once one leads and the other follows it. */
  async function startPair(
    leaseName: string,
  ): Promise<{ leader: ControllerProcess; standby: ControllerProcess; leaderId: string; standbyId: string }> {
    const ids = [`${leaseName}-a`, `${leaseName}-b`] as const;
    const processes = [replica(ids[0], leaseName), replica(ids[1], leaseName)] as const;
    const lease = await waitForHolder(admin, leaseName, undefined, 60_000);
    const leaderId = lease.spec?.holderIdentity ?? '';
    expect(ids).toContain(leaderId);
    const index = leaderId === ids[0] ? 0 : 1;
    const leader = processes[index];
    const standby = processes[1 - index]!;
    const standbyId = ids[1 - index]!;
    await leader.waitForLog(becameLeader(leaderId));
    await standby.waitForLog((l) => l.msg === 'leader observed' && l['leader'] === leaderId);
    return { leader, standby, leaderId, standbyId };
  }

  it('elects exactly one of two replicas; the standby is ready, reports leader 0 and reconciles nothing', async () => {
    const leaseName = newLease('le-pair');
    const { leader, standby, leaderId, standbyId } = await startPair(leaseName);

    // Give the standby several retry periods in which it must not take over a renewed lease.
    await new Promise((resolve) => setTimeout(resolve, 4 * FAST_LEASE.retryPeriodSeconds * 1000));
    const lease = await readLease(admin, leaseName);
    expect(lease?.spec?.holderIdentity).toBe(leaderId);
    expect(lease?.spec?.leaseTransitions).toBe(0);
    expect(standby.logs.filter((l) => l.msg === 'became leader' || l.msg === 'became leader; reconciling')).toEqual([]);
    expect(standby.logs.filter((l) => l.msg === 'controller started')).toEqual([]);
    expect(
      leader.logs
        .filter((l) => l.msg === 'controller started')
        .map((l) => l['controller'])
        .sort(),
    ).toEqual(['backuppolicy', 'backuprun', 'connector', 'objectexclusion', 'restorerequest']);

    expect(await standby.get('/readyz')).toEqual({ status: 200, body: 'ok (standby)\n' });
    expect(await leader.get('/readyz')).toEqual({ status: 200, body: 'ok (leader)\n' });
    expect(metricValue(await scrape(standby), 'saasbackup_controller_leader')).toBe(0);
    expect(metricValue(await scrape(leader), 'saasbackup_controller_leader')).toBe(1);

    // Only the leader reconciles a new Connector.
    await createConnectorWithSecret(admin, namespace, 'pair');
    await waitForConnectorReady(admin, namespace, 'pair');
    const events = await eventually(
      async () => {
        const found = await connectorEvents(admin, namespace, 'pair');
        return found.some((e) => e.reason === 'Ready') ? found : undefined;
      },
      { what: 'Event Ready on Connector pair' },
    );
    expect(new Set(events.map((e) => e.reportingInstance))).toEqual(new Set([leaderId]));
    await eventually(
      async () =>
        (metricValue(await scrape(leader), 'saasbackup_controller_reconcile_total', { controller: 'connector', result: 'success' }) ?? 0) >=
        1,
      { what: 'leader connector reconcile_total{result="success"} >= 1' },
    );
    expect(linesAbout(leader, namespace, 'pair')).toContainEqual(
      expect.objectContaining({ kind: 'Connector', condition: 'Ready', status: 'True', reason: 'Ready' }),
    );

    // The standby saw the Connector in its cache (it stays warm) but never reconciled it.
    expect(linesAbout(standby, namespace, 'pair')).toEqual([]);
    const standbyReconciles = samplesOf(await scrape(standby), 'saasbackup_controller_reconcile_total');
    expect(standbyReconciles).toHaveLength(5 * 4);
    expect(standbyReconciles.filter((s) => s.value !== 0)).toEqual([]);
    expect(events.some((e) => e.reportingInstance === standbyId)).toBe(false);
  });

  it('fails over to the standby after SIGKILL of the leader, within the lease duration plus a margin', async () => {
    const leaseName = newLease('le-kill');
    const { leader, standby, leaderId, standbyId } = await startPair(leaseName);
    const before = await readLease(admin, leaseName);

    const killedAt = Date.now();
    leader.child.kill('SIGKILL');
    // The last record the dead leader wrote: a renew already in flight may still land.
    let lastByLeader: LeaseObject | undefined;
    const takenOver = await eventually(
      async () => {
        const lease = await readLease(admin, leaseName);
        if (lease?.spec?.holderIdentity === leaderId) lastByLeader = lease;
        return lease?.spec?.holderIdentity === standbyId ? lease : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 100, what: `Lease held by ${standbyId}` },
    );
    const takeoverMs = Date.now() - killedAt;
    const leaseMs = FAST_LEASE.leaseDurationSeconds * 1000;
    console.log(
      `[leader-election] takeover after SIGKILL: ${takeoverMs} ms (lease duration ${leaseMs} ms, retry period ${FAST_LEASE.retryPeriodSeconds * 1000} ms)`,
    );

    expect(await leader.exited).toEqual({ code: null, signal: 'SIGKILL' });
    expect(takeoverMs).toBeLessThan(leaseMs + 10_000);
    // No split brain: the standby waited out a full lease after the dead leader's last renew.
    expect(lastByLeader, 'the lease as the killed leader left it').toBeDefined();
    const renewedAt = microTimeMs(lastByLeader?.spec?.renewTime);
    expect(microTimeMs(takenOver.spec?.acquireTime) - renewedAt).toBeGreaterThanOrEqual(leaseMs);
    expect(takenOver.spec?.leaseTransitions).toBe((before?.spec?.leaseTransitions ?? 0) + 1);
    expect(takenOver.spec?.leaseDurationSeconds).toBe(FAST_LEASE.leaseDurationSeconds);

    await standby.waitForLog(becameLeader(standbyId));
    expect(await standby.get('/readyz')).toEqual({ status: 200, body: 'ok (leader)\n' });
    expect(metricValue(await scrape(standby), 'saasbackup_controller_leader')).toBe(1);

    // The new leader reconciles an object created after the failover.
    await createConnectorWithSecret(admin, namespace, 'after-kill');
    await waitForConnectorReady(admin, namespace, 'after-kill');
    const events = await eventually(
      async () => {
        const found = await connectorEvents(admin, namespace, 'after-kill');
        return found.some((e) => e.reason === 'Ready') ? found : undefined;
      },
      { what: 'Event Ready on Connector after-kill' },
    );
    expect(new Set(events.map((e) => e.reportingInstance))).toEqual(new Set([standbyId]));
  });

  it('releases the lease on SIGTERM so that the standby takes over long before the lease could expire', async () => {
    // With a 30 s lease, a standby that had to wait for expiry would need at least 30 s after
    // the last renew it saw; only a released lease lets it take over within 15 s.
    const timings: Timings = { leaseDurationSeconds: 30, renewDeadlineSeconds: 10, retryPeriodSeconds: 1 };
    const leaseName = newLease('le-term');
    const aId = `${leaseName}-a`;
    const bId = `${leaseName}-b`;
    const a = replica(aId, leaseName, timings);
    await waitForHolder(admin, leaseName, aId, 60_000);
    await a.waitForLog(becameLeader(aId));
    const b = replica(bId, leaseName, timings);
    await b.waitForLog((l) => l.msg === 'leader observed' && l['leader'] === aId);
    expect(await b.get('/readyz')).toEqual({ status: 200, body: 'ok (standby)\n' });
    const held = await readLease(admin, leaseName);
    expect(held?.spec).toMatchObject({ holderIdentity: aId, leaseDurationSeconds: 30 });

    const terminatedAt = Date.now();
    const exit = await a.stop('SIGTERM');
    const exitMs = Date.now() - terminatedAt;
    const takenOver = await waitForHolder(admin, leaseName, bId, 60_000);
    const takeoverMs = Date.now() - terminatedAt;
    console.log(
      `[leader-election] takeover after SIGTERM (released lease): ${takeoverMs} ms; old leader exited after ${exitMs} ms (lease duration 30000 ms)`,
    );

    expect(exit).toEqual({ code: 0, signal: null });
    expect(a.logs.map((l) => l.msg)).toContain('released leader lease');
    expect(takeoverMs).toBeLessThan(15_000);
    expect(takenOver.spec).toMatchObject({
      holderIdentity: bId,
      leaseDurationSeconds: 30,
      leaseTransitions: (held?.spec?.leaseTransitions ?? 0) + 1,
    });
    await b.waitForLog(becameLeader(bId));
    expect(metricValue(await scrape(b), 'saasbackup_controller_leader')).toBe(1);
  });

  it('stops and exits with code 1 when its lease is taken by someone else', async () => {
    const leaseName = newLease('le-taken');
    const id = `${leaseName}-a`;
    const a = replica(id, leaseName);
    await waitForHolder(admin, leaseName, id, 60_000);
    await a.waitForLog(becameLeader(id));

    // Another party takes the Lease (for example an operator by hand) for an hour.
    const now = new Date();
    const takenAt = Date.now();
    await kubeRequest(admin, {
      method: 'PATCH',
      path: objectPath(leasesResource, LEASE_NAMESPACE, leaseName),
      contentType: 'application/merge-patch+json',
      body: {
        spec: {
          holderIdentity: 'intruder',
          leaseDurationSeconds: 3600,
          acquireTime: formatMicroTime(now),
          renewTime: formatMicroTime(new Date(now.getTime() + 3600_000)),
        },
      },
    });

    const exit = await Promise.race([
      a.exited,
      new Promise<'still running'>((resolve) => setTimeout(() => resolve('still running'), 20_000)),
    ]);
    const exitMs = Date.now() - takenAt;
    console.log(`[leader-election] leader exited ${exitMs} ms after its lease was taken`);
    expect(exit).toEqual({ code: 1, signal: null });
    // It noticed at its next renew attempt, well within the renew deadline plus a margin.
    expect(exitMs).toBeLessThan(FAST_LEASE.renewDeadlineSeconds * 1000 + 10_000);
    const messages = a.logs.map((l) => l.msg);
    expect(messages).toContain('lost leadership; stopping');
    expect(messages).toContain('exiting after losing leadership');
    // It stopped reconciling and did not fight for (or release) the lease it lost.
    expect(a.logs.filter((l) => l.msg === 'controller stopping').length).toBe(5);
    expect(messages).not.toContain('released leader lease');
    expect((await readLease(admin, leaseName))?.spec?.holderIdentity).toBe('intruder');
  });
});
