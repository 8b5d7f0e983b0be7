// Pure validation of a Connector beyond what the CRD schema can check.
import type { Connector } from '../../api/connector.ts';
import { checkSecret, failed, ok, type SecretKeys, type Verdict } from '../verdict.ts';

export interface ConnectorInput {
  connector: Connector;
  secrets: SecretKeys;
}

export function decideConnectorReady({ connector, secrets }: ConnectorInput): Verdict {
  const { spec } = connector;
  if (spec.provider === 'microsoft365') {
    const m365 = spec.microsoft365;
    if (!m365) return failed('InvalidConfiguration', 'spec.microsoft365 is required when provider is microsoft365.');
    const problem = m365.clientSecretRef
      ? checkSecret(secrets, 'spec.microsoft365.clientSecretRef', m365.clientSecretRef.name, [m365.clientSecretRef.key])
      : m365.certificateRef
        ? checkSecret(secrets, 'spec.microsoft365.certificateRef', m365.certificateRef.name, [
            m365.certificateRef.certificateKey,
            m365.certificateRef.privateKeyKey,
          ])
        : failed('InvalidConfiguration', 'spec.microsoft365 needs clientSecretRef or certificateRef.');
    if (problem) return problem;
  } else {
    const google = spec.google;
    if (!google) return failed('InvalidConfiguration', 'spec.google is required when provider is google.');
    const problem = checkSecret(secrets, 'spec.google.serviceAccountKeyRef', google.serviceAccountKeyRef.name, [
      google.serviceAccountKeyRef.key,
    ]);
    if (problem) return problem;
  }
  return ok('Ready', 'The configuration is valid and the credential Secret is present. The tenant has not been contacted yet.');
}

/** Names of the Secrets a Connector references, so the reconciler can read them before deciding. */
export function connectorSecretNames(connector: Connector): string[] {
  const { microsoft365, google } = connector.spec;
  return [microsoft365?.clientSecretRef?.name, microsoft365?.certificateRef?.name, google?.serviceAccountKeyRef.name].filter(
    (name): name is string => name !== undefined,
  );
}
