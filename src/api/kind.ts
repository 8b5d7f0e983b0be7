// What the CRD generator and the runtime need to know about a kind, beyond its schemas.
import type { TSchema } from '@sinclair/typebox';
import type { FieldRule } from './validation-rules.ts';

export const GROUP = 'saasbackup.io';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const CATEGORY = 'saasbackup';

export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  jsonPath: string;
  description?: string;
  priority?: number;
  format?: string;
}

export interface KindDefinition {
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  description: string;
  spec: TSchema;
  status: TSchema;
  printerColumns: PrinterColumn[];
  /** Rules on metadata.name beyond Kubernetes' own (a DNS subdomain of at most 253 characters). */
  nameRules?: readonly FieldRule[];
}

/** The printer column every kind ends with. */
export const AGE_COLUMN: PrinterColumn = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' };

export function conditionColumn(name: string, type: string, field: 'status' | 'reason', priority?: number): PrinterColumn {
  return {
    name,
    type: 'string',
    jsonPath: `.status.conditions[?(@.type=="${type}")].${field}`,
    ...(priority ? { priority } : {}),
  };
}

/** Object metadata as the controller reads it. */
export interface ObjectMeta {
  name: string;
  namespace: string;
  uid?: string;
  generation?: number;
  resourceVersion?: string;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  ownerReferences?: {
    apiVersion: string;
    kind: string;
    name: string;
    uid: string;
    controller?: boolean;
    blockOwnerDeletion?: boolean;
  }[];
}

export interface Resource<Spec, Status> {
  apiVersion: typeof API_VERSION;
  kind: string;
  metadata: ObjectMeta;
  spec: Spec;
  status?: Status;
}
