/** The HTTP API, same origin as the app. Every error body is {"error": {code, message, field}}. */
import { currentSession, refresh } from "./auth";
import { config } from "./config";
import type { Lang } from "./i18n";

export type Role = "owner" | "admin" | "agent";
export type View = "unassigned" | "mine" | "others" | "closed";
export type MessageStatus = "queued" | "sending" | "sent" | "delivered" | "undelivered" | "failed" | "received";

export interface Me {
  user_id: string;
  role: Role;
  email: string | null;
  name: string | null;
  available: boolean;
  capacity: number;
  /** The app's language kept in the profile; null = the browser's. */
  language: Lang | null;
}
export interface QueueSettings {
  strategy: "manual" | "round_robin" | "least_busy" | "longest_idle";
  service_level_s: number;
  max_in_queue: number;
  max_transfer_s: number;
  max_queue_time_s: number;
  reopen_window_h: number;
}
export type Weekday = "mon" | "tue" | "wed" | "thu" | "fri" | "sat" | "sun";
export const WEEKDAYS: Weekday[] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
/** Times are "HH:MM[:SS]" in the channel's timezone; dates "YYYY-MM-DD". */
export interface TimeRange {
  start: string;
  end: string;
}
export interface BusinessHours {
  enabled: boolean;
  timezone: string;
  weekly: Partial<Record<Weekday, TimeRange[]>>;
  holidays: string[];
  out_of_hours_message: string | null;
}
export interface Channel {
  id: string;
  name: string;
  type: "one_way" | "two_way";
  sender: string;
  provider: "sandbox" | "aws_sms" | "twilio";
  provider_settings: Record<string, string>;
  enabled: boolean;
  default_region: string | null;
  max_segments: number;
  business_hours: BusinessHours;
  queue: QueueSettings;
  has_secret: boolean;
  team_ids: string[];
  webhook_urls: Record<string, string>;
  created_at: string;
  updated_at: string;
}
export interface StatusChange {
  status: MessageStatus;
  at: string;
  detail: string | null;
}
export interface Message {
  id: string;
  direction: "inbound" | "outbound";
  channel_id: string;
  to: string;
  sender: string;
  text: string;
  encoding: "GSM-7" | "UCS-2";
  segments: number;
  credits: number;
  status: MessageStatus;
  history: StatusChange[];
  created_by: string | null;
  created_at: string;
  error: { code: string; message: string } | null;
  refunded: boolean;
  conversation_id: string | null;
}
export interface Conversation {
  id: string;
  channel_id: string;
  number: string;
  status: "open" | "closed";
  assignee_id: string | null;
  created_at: string;
  last_activity_at: string;
  last_message_preview: string | null;
  closed_at: string | null;
}
export interface ConversationPage {
  items: Conversation[];
  cursor: string | null;
}
export interface ConversationDetail extends Conversation {
  messages: Message[];
  contact: { name: string | null; mobile: string | null } | null;
}
export interface Preview {
  text: string;
  encoding: "GSM-7" | "UCS-2";
  segments: number;
  characters: number;
  units: number;
  units_left: number;
  per_segment: number;
  non_gsm_characters: string[];
  to: string | null;
  country: string | null;
  multiplier: number;
  credits: number;
  max_segments: number;
  within_limit: boolean;
}
export interface User {
  user_id: string;
  email: string;
  name: string;
  role: Role;
  available: boolean;
  capacity: number;
  open_count: number;
  language: Lang | null;
}
export interface Notification {
  id: string;
  kind: "new_message_mine" | "new_message_others" | "new_message_unassigned" | "assigned_to_me";
  conversation_id: string;
  channel_id: string;
  by: string | null;
  created_at: string;
  read_at: string | null;
}
export interface LedgerEntry {
  id: string;
  kind: "top_up" | "charge" | "refund";
  amount: number;
  at: string;
  message_id: string | null;
  reference: string | null;
  reason: string | null;
}
export interface Team {
  id: string;
  name: string;
  created_at: string;
  member_ids: string[];
  channel_ids: string[];
}
export type Direction = "inbound" | "outbound" | "both";
export type ConsentSource = "keyword" | "api" | "import" | "form" | "support";
export interface BlockEntry {
  number: string;
  channel_id: string | null;
  direction: Direction;
  reason: string | null;
  created_at: string;
  created_by: string | null;
}
export interface OptOut {
  number: string;
  channel_id: string | null;
  reason: string;
  source: ConsentSource;
  created_at: string;
  created_by: string | null;
}
export interface ConsentRecord {
  id: string;
  number: string;
  event: "opt_out" | "opt_in";
  channel_id: string | null;
  reason: string;
  source: ConsentSource;
  by: string | null;
  at: string;
}
export interface QueueEntry {
  position: number;
  conversation_id: string;
  contact_id: string;
  number: string;
  arrived_at: string;
  enqueued_at: string | null;
  waited_s: number;
  timed_out_at: string | null;
  last_message_preview: string | null;
}
export interface QueueView {
  channel_id: string;
  strategy: QueueSettings["strategy"];
  max_in_queue: number;
  waiting: QueueEntry[];
  overflow: QueueEntry[];
}
export interface ChannelStats {
  channel_id: string;
  start: string;
  end: string;
  service_level_s: number;
  compliance_pct: number | null;
  waiting_now: number;
  unassigned_now: number;
  max_in_queue: number;
  overflow_now: number;
  answered: number;
  answered_within_level: number;
  abandoned: number;
  timed_out: number;
  avg_wait_s: number | null;
  p90_wait_s: number | null;
}
export interface NotificationPreferences {
  new_message_mine: boolean;
  new_message_others: boolean;
  new_message_unassigned: boolean;
  assigned_to_me: boolean;
}
export interface Contact {
  id: string;
  mobile: string | null;
  first_name: string | null;
  last_name: string | null;
  name: string | null;
  other_phone: string | null;
  email: string | null;
  language: string | null;
  time_zone: string | null;
  time_zone_derived: boolean;
  custom_fields: Record<string, unknown>;
  tags: string[];
  manager_ids: string[];
  created_at: string;
  updated_at: string | null;
}
export type FieldType = "text" | "number" | "date" | "boolean" | "choice";
export interface ContactField {
  key: string;
  label: string;
  type: FieldType;
  options: string[] | null;
  created_at: string;
}
export type RuleOp = "equals" | "not_equals" | "contains" | "starts_with" | "greater" | "less" | "is_set" | "in";
export type RuleValue = string | number | boolean | (string | number)[] | null;
export type Rule = { all: Rule[] } | { any: Rule[] } | { field: string; op: RuleOp; value?: RuleValue };
export interface Group {
  id: string;
  name: string;
  description: string | null;
  kind: "static" | "dynamic";
  rule: Rule | null;
  created_at: string;
  updated_at: string | null;
}
export interface GroupPreview {
  count: number;
  items: Contact[];
}
export interface ConsentState {
  number: string | null;
  opted_out: OptOut[];
  blocked: BlockEntry[];
  history: ConsentRecord[];
  history_cursor: string | null;
}
export interface Page<T> {
  items: T[];
  cursor?: string | null;
  next_cursor?: string | null;
}

export class ApiError extends Error {
  constructor(
    public readonly status: number,
    public readonly code: string,
    message: string,
    /** The input the API named, without the "body." prefix (e.g. "to", "queue.max_in_queue"). */
    public readonly field: string | null,
    public readonly details: Record<string, unknown>,
  ) {
    super(message);
  }
}

async function send(method: string, path: string, body?: unknown, token?: string): Promise<Response> {
  const headers: Record<string, string> = {};
  if (token) headers["authorization"] = `Bearer ${token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  return fetch(config().apiBase + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  let res = await send(method, path, body, currentSession()?.idToken);
  if (res.status === 401 && currentSession()) {
    // The token may have expired while the tab slept: refresh once and retry.
    const s = await refresh().catch(() => null);
    if (s) res = await send(method, path, body, s.idToken);
  }
  const text = await res.text();
  let data: unknown = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!res.ok) {
    const err = (data as { error?: Record<string, unknown>; message?: string } | null)?.error;
    const { code, message, field, ...details } = err ?? {};
    throw new ApiError(
      res.status,
      String(code ?? `http_${res.status}`),
      String(message ?? (data as { message?: string } | null)?.message ?? res.statusText),
      typeof field === "string" ? field.replace(/^body\./, "") : null,
      details,
    );
  }
  return data as T;
}

export const get = <T>(path: string) => api<T>("GET", path);
export const post = <T>(path: string, body?: unknown) => api<T>("POST", path, body ?? {});
export const qs = (params: Record<string, string | number | null | undefined>): string => {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== "") p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : "";
};

// -- Bots (issue 15) --------------------------------------------------------------------------------
export type StepType = "send" | "ask" | "csat" | "set_field" | "assign" | "handoff" | "close" | "end";
export interface BotChoice {
  keywords: string[];
  next: string;
}
export interface BotStep {
  id: string;
  type: StepType;
  text?: string;
  next?: string | null;
  choices?: BotChoice[];
  save_to?: string | null;
  timeout_s?: number;
  timeout_next?: string | null;
  field?: string;
  value?: string;
  user_id?: string | null;
  team_id?: string | null;
}
export interface Bot {
  id: string;
  name: string;
  kind: "scripted" | "webhook";
  flow: { steps: BotStep[] } | null;
  webhook_url: string | null;
  enabled: boolean;
  has_secret: boolean;
  created_at: string;
  updated_at: string;
}
export interface BotRun {
  id: string;
  bot_id: string;
  trigger: "on_start" | "on_finish" | "after_timeout";
  kind: "scripted" | "webhook";
  status: "active" | "done" | "stopped";
  outcome: string | null;
  started_at: string;
  ended_at: string | null;
  csat: number | null;
  transcript: { at: string; direction: "in" | "out" | "note"; text: string; step_id: string | null }[];
}
export interface ChannelAutomations {
  bot_on_start: string | null;
  bot_on_finish: string | null;
  bot_after_timeout: string | null;
}
export interface CsatStats {
  user_id: string | null;
  asked: number;
  answered: number;
  average: number | null;
  response_rate_pct: number | null;
}
/** A conversation's bot fields (issue 15): set while a bot has it. */
export interface BotConversationFields {
  bot_id?: string | null;
  bot_run_id?: string | null;
}
/** GET /v1/channels/{id}/csat (issue 15): finish bots' CSAT over a period of UTC days. */
export interface CsatReport {
  channel_id: string;
  since: string;
  until: string;
  days: number;
  csat: CsatStats;
  by_agent: CsatStats[];
}
