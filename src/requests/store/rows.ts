/** Between the model (camelCase, typed) and the rows (snake_case, text and integers). */
import type { Selectable, Updateable } from "kysely";
import { isKeyBits } from "../../dkim/keys.js";
import type {
  AuditDetails,
  AuditEvent,
  DkimRequest,
  QueuedSetup,
  RequestRef,
  SetupInput,
} from "../model.js";
import type { RequestChanges } from "../store.js";
import type { EventsTable, RequestsTable, SetupIntakeTable } from "./schema.js";

/** Every column but the sealed key: reading a request never touches the key. */
export const REQUEST_COLUMNS = [
  "id",
  "domain",
  "selector",
  "bits",
  "usernames",
  "testing",
  "reason",
  "ticket",
  "requester_id",
  "channel_id",
  "message_ts",
  "public_key_base64",
  "fingerprint",
  "record_value",
  "state",
  "certificate_installed",
  "enabled_usernames",
  "dns_status",
  "dns_problem_code",
  "dns_summary",
  "dns_checked_at",
  "decided_by",
  "decided_at",
  "reject_reason",
  "last_error",
  "created_at",
  "updated_at",
  "team_id",
  "enterprise_id",
  "rotation_of",
  "rotation_of_selector",
  "replaced_by",
  "replaced_by_selector",
  "activated_at",
  "retire_after",
  "retired_at",
  "retired_by",
  "publish_zone",
  "publish_state",
  "batch_id",
] as const;

export type RequestRow = Pick<Selectable<RequestsTable>, (typeof REQUEST_COLUMNS)[number]>;

export const EVENT_COLUMNS = ["id", "request_id", "at", "actor_id", "kind", "details"] as const;

export type EventRow = Pick<Selectable<EventsTable>, (typeof EVENT_COLUMNS)[number]>;

export function toRow(request: DkimRequest): RequestRow {
  return {
    id: request.id,
    domain: request.domain,
    selector: request.selector,
    bits: request.bits,
    usernames: JSON.stringify(request.usernames),
    testing: request.testing ? 1 : 0,
    reason: request.reason,
    ticket: request.ticket,
    requester_id: request.requesterId,
    channel_id: request.channelId,
    message_ts: request.messageTs,
    public_key_base64: request.publicKeyBase64,
    fingerprint: request.fingerprint,
    record_value: request.recordValue,
    state: request.state,
    certificate_installed: request.progress.certificateInstalled ? 1 : 0,
    enabled_usernames: JSON.stringify(request.progress.enabledUsernames),
    dns_status: request.lastDnsCheck?.status ?? null,
    dns_problem_code: request.lastDnsCheck?.problemCode ?? null,
    dns_summary: request.lastDnsCheck?.summary ?? null,
    dns_checked_at: request.lastDnsCheck?.checkedAt ?? null,
    decided_by: request.decidedBy,
    decided_at: request.decidedAt,
    reject_reason: request.rejectReason,
    last_error: request.lastError,
    created_at: request.createdAt,
    updated_at: request.updatedAt,
    team_id: request.teamId,
    enterprise_id: request.enterpriseId,
    rotation_of: request.rotationOf?.id ?? null,
    rotation_of_selector: request.rotationOf?.selector ?? null,
    replaced_by: request.replacedBy?.id ?? null,
    replaced_by_selector: request.replacedBy?.selector ?? null,
    activated_at: request.activatedAt,
    retire_after: request.retireAfter,
    retired_at: request.retiredAt,
    retired_by: request.retiredBy,
    publish_zone: request.publication?.zone ?? null,
    publish_state: request.publication?.state ?? null,
    batch_id: request.batchId,
  };
}

/** The columns a change writes: only the fields it names. */
export function changeColumns(changes: RequestChanges): Updateable<RequestsTable> {
  const columns: Updateable<RequestsTable> = {};
  if (changes.channelId !== undefined) columns.channel_id = changes.channelId;
  if (changes.messageTs !== undefined) columns.message_ts = changes.messageTs;
  if (changes.progress !== undefined) {
    columns.certificate_installed = changes.progress.certificateInstalled ? 1 : 0;
    columns.enabled_usernames = JSON.stringify(changes.progress.enabledUsernames);
  }
  if (changes.lastDnsCheck !== undefined) {
    const check = changes.lastDnsCheck;
    columns.dns_status = check?.status ?? null;
    columns.dns_problem_code = check?.problemCode ?? null;
    columns.dns_summary = check?.summary ?? null;
    columns.dns_checked_at = check?.checkedAt ?? null;
  }
  if (changes.decidedBy !== undefined) columns.decided_by = changes.decidedBy;
  if (changes.decidedAt !== undefined) columns.decided_at = changes.decidedAt;
  if (changes.rejectReason !== undefined) columns.reject_reason = changes.rejectReason;
  if (changes.lastError !== undefined) columns.last_error = changes.lastError;
  if (changes.replacedBy !== undefined) {
    columns.replaced_by = changes.replacedBy?.id ?? null;
    columns.replaced_by_selector = changes.replacedBy?.selector ?? null;
  }
  if (changes.activatedAt !== undefined) columns.activated_at = changes.activatedAt;
  if (changes.retireAfter !== undefined) columns.retire_after = changes.retireAfter;
  if (changes.retiredAt !== undefined) columns.retired_at = changes.retiredAt;
  if (changes.retiredBy !== undefined) columns.retired_by = changes.retiredBy;
  if (changes.publication !== undefined) {
    columns.publish_zone = changes.publication?.zone ?? null;
    columns.publish_state = changes.publication?.state ?? null;
  }
  return columns;
}

export function fromRow(row: RequestRow): DkimRequest {
  const bits = Number(row.bits);
  if (!isKeyBits(bits)) {
    throw new Error(`Request ${row.id} has an unsupported key size in the database: ${row.bits}.`);
  }
  return {
    id: row.id,
    domain: row.domain,
    selector: row.selector,
    bits,
    usernames: parseStringArray(row.usernames),
    testing: Number(row.testing) === 1,
    reason: row.reason,
    ticket: row.ticket,
    requesterId: row.requester_id,
    teamId: row.team_id,
    enterpriseId: row.enterprise_id,
    channelId: row.channel_id,
    messageTs: row.message_ts,
    publicKeyBase64: row.public_key_base64,
    fingerprint: row.fingerprint,
    recordValue: row.record_value,
    state: row.state,
    progress: {
      certificateInstalled: Number(row.certificate_installed) === 1,
      enabledUsernames: parseStringArray(row.enabled_usernames),
    },
    lastDnsCheck:
      row.dns_status === null
        ? null
        : {
            status: row.dns_status,
            problemCode: row.dns_problem_code,
            summary: row.dns_summary ?? "",
            checkedAt: row.dns_checked_at ?? row.updated_at,
          },
    decidedBy: row.decided_by,
    decidedAt: row.decided_at,
    rejectReason: row.reject_reason,
    rotationOf: refOf(row.rotation_of, row.rotation_of_selector),
    replacedBy: refOf(row.replaced_by, row.replaced_by_selector),
    activatedAt: row.activated_at,
    retireAfter: row.retire_after,
    retiredAt: row.retired_at,
    retiredBy: row.retired_by,
    publication:
      row.publish_zone === null ? null : { zone: row.publish_zone, state: row.publish_state ?? "" },
    lastError: row.last_error,
    batchId: row.batch_id,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export const INTAKE_COLUMNS = [
  "id",
  "received_at",
  "requester_id",
  "channel_id",
  "team_id",
  "enterprise_id",
  "input",
  "response_url",
  "state",
  "request_id",
  "outcome",
] as const;

export type IntakeRow = Pick<Selectable<SetupIntakeTable>, (typeof INTAKE_COLUMNS)[number]>;

export function intakeToRow(setup: QueuedSetup): IntakeRow {
  return {
    id: setup.id,
    received_at: setup.receivedAt,
    requester_id: setup.requesterId,
    channel_id: setup.channelId,
    team_id: setup.teamId,
    enterprise_id: setup.enterpriseId,
    input: JSON.stringify(setup.input),
    response_url: setup.responseUrl,
    state: setup.state,
    request_id: setup.requestId,
    outcome: setup.outcome,
  };
}

export function intakeFromRow(row: IntakeRow): QueuedSetup {
  return {
    id: row.id,
    receivedAt: row.received_at,
    requesterId: row.requester_id,
    channelId: row.channel_id,
    teamId: row.team_id,
    enterpriseId: row.enterprise_id,
    input: JSON.parse(row.input) as SetupInput,
    responseUrl: row.response_url,
    state: row.state,
    requestId: row.request_id,
    outcome: row.outcome,
  };
}

function refOf(id: string | null, selector: string | null): RequestRef | null {
  return id === null ? null : { id, selector: selector ?? "" };
}

export function eventFromRow(row: EventRow): AuditEvent {
  return {
    id: Number(row.id),
    requestId: row.request_id,
    at: row.at,
    actorId: row.actor_id,
    kind: row.kind,
    details: JSON.parse(row.details) as AuditDetails,
  };
}

function parseStringArray(json: string): string[] {
  const value: unknown = JSON.parse(json);
  return Array.isArray(value)
    ? value.filter((item): item is string => typeof item === "string")
    : [];
}
