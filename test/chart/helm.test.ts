// The Helm chart renders, passes helm lint, carries exactly the CRDs of crds/ and the RBAC rules
// of config/rbac/, deploys the controller the way the design asks (2 replicas, non-root,
// read-only root filesystem, probes), and every rendered object is accepted by a real apiserver.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { adminKubeConfig } from '../envtest/context.ts';
import { apply, freshNamespace, get, readManifests, type Manifest } from '../support/kube.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CHART = path.join(ROOT, 'charts/saasbackup');
const KUBERNETES_VERSION = /^KUBERNETES_VERSION=(\S+)/m.exec(readFileSync(path.join(ROOT, 'test/envtest/build-binaries.sh'), 'utf8'))![1]!;

function helmBinary(): string {
  if (process.env.HELM_BINARY) return process.env.HELM_BINARY;
  const script = path.join(ROOT, 'test/envtest/build-binaries.sh');
  const version = /^HELM_VERSION=(\S+)/m.exec(readFileSync(script, 'utf8'))![1]!;
  const cacheRoot = execFileSync(script, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
  const binary = path.join(cacheRoot, `helm-${version}`, 'helm');
  if (!existsSync(binary)) throw new Error(`helm was not built at ${binary}`);
  return binary;
}

const kc = adminKubeConfig();
let helm: string;
let namespace: string;
let rendered: Manifest[];

function render(...args: string[]): Manifest[] {
  const output = execFileSync(helm, ['template', 'sb', CHART, '--namespace', namespace, '--kube-version', KUBERNETES_VERSION, ...args], {
    encoding: 'utf8',
    env: {
      ...process.env,
      HELM_CACHE_HOME: path.join(ROOT, 'node_modules/.cache/helm'),
      HELM_CONFIG_HOME: path.join(ROOT, 'node_modules/.cache/helm'),
    },
  });
  return parseAllDocuments(output)
    .map((doc) => doc.toJS() as Manifest | null)
    .filter((doc): doc is Manifest => doc !== null);
}

const find = (kind: string) => rendered.filter((m) => m.kind === kind);
const rulesOf = (file: string) => (readManifests(path.join(ROOT, 'config/rbac', file))[0] as Manifest & { rules: unknown[] }).rules;

beforeAll(async () => {
  helm = helmBinary();
  namespace = await freshNamespace(kc, 'chart');
  rendered = render('--include-crds');
});

describe('charts/saasbackup', () => {
  it('passes helm lint', () => {
    const output = execFileSync(helm, ['lint', CHART, '--kube-version', KUBERNETES_VERSION], { encoding: 'utf8' });
    expect(output).toContain('0 chart(s) failed');
  });

  it('installs exactly the CRDs of crds/', () => {
    const fromChart = find('CustomResourceDefinition');
    const fromRepo = readManifests(path.join(ROOT, 'crds/backupruns.saasbackup.io.yaml'));
    expect(fromChart.map((crd) => crd.metadata.name).sort()).toEqual([
      'backuppolicies.saasbackup.io',
      'backupruns.saasbackup.io',
      'connectors.saasbackup.io',
      'objectexclusions.saasbackup.io',
      'restorerequests.saasbackup.io',
    ]);
    expect(fromChart.find((crd) => crd.metadata.name === 'backupruns.saasbackup.io')).toEqual(fromRepo[0]);
  });

  it('grants the controller exactly the rules of config/rbac/', () => {
    expect((find('ClusterRole')[0] as Manifest & { rules: unknown[] }).rules).toEqual(rulesOf('role.yaml'));
    expect((find('Role')[0] as Manifest & { rules: unknown[] }).rules).toEqual(rulesOf('leader_election_role.yaml'));
    const binding = find('ClusterRoleBinding')[0] as Manifest & { subjects: { name: string; namespace: string }[] };
    const account = find('ServiceAccount')[0]!;
    expect(binding.subjects[0]).toMatchObject({ name: account.metadata.name, namespace });
  });

  it('runs two hardened controller replicas with probes and leader election in the release namespace', () => {
    const deployment = find('Deployment')[0] as Manifest & { spec: { replicas: number; template: { spec: Record<string, never> } } };
    expect(deployment.spec.replicas).toBe(2);
    const pod = deployment.spec.template.spec as unknown as {
      securityContext: Record<string, unknown>;
      containers: {
        args: string[];
        securityContext: Record<string, unknown>;
        livenessProbe: { httpGet: { path: string } };
        readinessProbe: { httpGet: { path: string } };
      }[];
    };
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    const container = pod.containers[0]!;
    expect(container.args[0]).toBe('controller');
    expect(container.args).toContain('--lease-namespace=$(POD_NAMESPACE)');
    expect(container.securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    });
    expect(container.livenessProbe.httpGet.path).toBe('/healthz');
    expect(container.readinessProbe.httpGet.path).toBe('/readyz');
  });

  it('renders a ServiceMonitor only when asked', () => {
    expect(find('ServiceMonitor')).toHaveLength(0);
    expect(render('--set', 'metrics.serviceMonitor.enabled=true').filter((m) => m.kind === 'ServiceMonitor')).toHaveLength(1);
  });

  it('renders the controller alerts only when asked, with the metric names the controller serves', () => {
    expect(find('PrometheusRule')).toHaveLength(0);
    const rule = render('--set', 'metrics.prometheusRule.enabled=true').find((m) => m.kind === 'PrometheusRule') as Manifest & {
      spec: { groups: { rules: { alert: string; expr: string; annotations: { summary: string } }[] }[] };
    };
    const rules = rule.spec.groups.flatMap((group) => group.rules);
    expect(rules.map((r) => r.alert)).toEqual([
      'SaasbackupControllerNoLeader',
      'SaasbackupControllerCachesNotSynced',
      'SaasbackupControllerReconcileErrors',
      'SaasbackupControllerQueueBacklog',
    ]);
    const served = [
      'saasbackup_controller_leader',
      'saasbackup_controller_cache_synced',
      'saasbackup_controller_reconcile_total',
      'saasbackup_controller_workqueue_depth',
    ];
    for (const r of rules)
      expect(
        served.some((metric) => r.expr.includes(metric)),
        r.alert,
      ).toBe(true);
    expect(rules[2]!.annotations.summary).toContain('{{ $labels.controller }}');
  });

  it('is accepted by the apiserver', async () => {
    for (const manifest of rendered.filter((m) => m.kind !== 'CustomResourceDefinition')) {
      await apply(kc, manifest, namespace);
    }
    const deployment = find('Deployment')[0]!;
    expect(await get(kc, 'apps/v1', 'Deployment', namespace, deployment.metadata.name)).toBeDefined();
  });
});
