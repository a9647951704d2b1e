import { useEffect, useState } from "preact/hooks";
import { ApiError, get, post, qs, type ContactField, type Group, type Page } from "../api";
import { currentSession } from "../auth";
import { config } from "../config";
import { errorsOf, Field, FormError, type FieldErrors } from "../components";
import { dateTime, t, type Key } from "../i18n";

export interface RowError {
  line: number;
  column: string | null;
  field: string | null;
  code: string;
  message: string;
}
export interface ContactImportState {
  id: string;
  status: "waiting_upload" | "processing" | "done" | "failed" | string;
  file_name: string | null;
  group_id: string | null;
  rows_total: number | null;
  rows: number;
  created: number;
  updated: number;
  failed: number;
  errors: RowError[];
  error: RowError | null;
  created_at: string;
}
interface SuggestedColumns {
  delimiter: string;
  columns: { header: string; field: string | null }[];
}
/** What a column can fill (POST /v1/contact-imports `mapping` values); custom fields as `custom_fields.<key>`. */
const IMPORTABLE = ["first_name", "last_name", "mobile", "other_phone", "email", "language", "time_zone", "tags"] as const;

/** The file's first line, decoded as the import will (a BOM: UTF-16 or UTF-8; else UTF-8 if valid, else
 * Windows-1252). */
async function headerLine(file: File): Promise<string> {
  const bytes = new Uint8Array(await file.slice(0, 65536).arrayBuffer());
  const utf16 = bytes[0] === 0xff && bytes[1] === 0xfe ? "utf-16le" : bytes[0] === 0xfe && bytes[1] === 0xff ? "utf-16be" : null;
  let text: string;
  try {
    text = new TextDecoder(utf16 ?? "utf-8", { fatal: utf16 === null }).decode(bytes, { stream: true });
  } catch {
    text = new TextDecoder("windows-1252").decode(bytes);
  }
  return text.replace(/^\ufeff/, "").split(/\r?\n/, 1)[0] ?? "";
}
interface ImportStarted {
  import: ContactImportState;
  upload: { url: string; fields: Record<string, string>; max_bytes: number };
}

const FINAL = new Set(["done", "failed"]);

/** Saves GET /v1/contacts/export (admin) as a file: fetched with the auth header, handed over as a Blob; a
 * book too large for one answer (413) is written to storage by POST /v1/contacts/exports and downloaded
 * from the link it answers. */
export async function exportContacts(groupId?: string | null): Promise<void> {
  const token = currentSession()?.idToken;
  const res = await fetch(`${config().apiBase}/v1/contacts/export${qs({ group_id: groupId ?? null })}`, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  if (res.status === 413) {
    // too large for one answer: the API writes the file and answers a presigned download link
    const file = await post<{ download_url: string }>("/v1/contacts/exports", { group_id: groupId ?? null });
    const a = document.createElement("a");
    a.href = file.download_url;
    document.body.appendChild(a);
    a.click();
    a.remove();
    return;
  }
  if (!res.ok) {
    let msg = res.statusText;
    try {
      msg = ((await res.json()) as { error?: { message?: string } }).error?.message ?? msg;
    } catch {
      /* not JSON */
    }
    throw new ApiError(res.status, `http_${res.status}`, msg, null, {});
  }
  const blob = await res.blob();
  const name = /filename="([^"]+)"/.exec(res.headers.get("content-disposition") ?? "")?.[1] ?? "contacts.csv";
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** /contacts/import: a CSV uploaded with the presigned POST, then its progress and report (polled every second). */
export function ContactImport({ admin }: { admin: boolean }) {
  const [groups, setGroups] = useState<Group[]>([]);
  const [groupId, setGroupId] = useState("");
  const [file, setFile] = useState<File | null>(null);
  const [errors, setErrors] = useState<FieldErrors>({});
  const [busy, setBusy] = useState(false);
  const [current, setCurrent] = useState<ContactImportState | null>(null);
  const [defs, setDefs] = useState<ContactField[]>([]);
  const [columns, setColumns] = useState<SuggestedColumns | null>(null);
  const [mapping, setMapping] = useState<Record<string, string>>({});
  const [pastTick, setPastTick] = useState(0);
  useEffect(() => {
    void get<{ items: ContactField[] }>("/v1/contact-fields").then((r) => setDefs(r.items), () => undefined);
  }, []);
  const choose = (f: File | null) => {
    setFile(f);
    setColumns(null);
    setMapping({});
    if (!f) return;
    void headerLine(f)
      .then((header) => post<SuggestedColumns>("/v1/contact-imports/columns", { header }))
      .then(
        (cols) => {
          setColumns(cols);
          setMapping(Object.fromEntries(cols.columns.map((c) => [c.header, c.field ?? ""])));
        },
        (e: unknown) => setErrors(errorsOf(e)),
      );
  };
  useEffect(() => {
    if (current && FINAL.has(current.status)) setPastTick((n) => n + 1);
  }, [current?.status]);
  useEffect(() => {
    void get<Page<Group>>(`/v1/groups${qs({ limit: 100 })}`).then(
      (p) => setGroups(p.items.filter((g) => g.kind === "static")),
      () => undefined,
    );
  }, []);
  useEffect(() => {
    if (!current || FINAL.has(current.status)) return;
    const h = setTimeout(() => {
      void get<ContactImportState>(`/v1/contact-imports/${encodeURIComponent(current.id)}`).then(setCurrent, (e: unknown) => setErrors(errorsOf(e)));
    }, 1000);
    return () => clearTimeout(h);
  }, [current]);
  const start = async (e: Event) => {
    e.preventDefault();
    setErrors({});
    if (!file) {
      setErrors({ file: t("import.nofile") });
      return;
    }
    setBusy(true);
    try {
      const body: Record<string, unknown> = { group_id: groupId || null, file_name: file.name };
      if (columns) body["mapping"] = Object.fromEntries(columns.columns.map((c) => [c.header, mapping[c.header] || null]));
      const started = await post<ImportStarted>("/v1/contact-imports", body);
      if (file.size > started.upload.max_bytes) {
        setErrors({ file: t("import.toolarge", { n: started.upload.max_bytes }) });
        return;
      }
      const form = new FormData();
      for (const [k, v] of Object.entries(started.upload.fields)) form.append(k, v);
      form.append("file", file); // last: S3 ignores fields after the file
      const res = await fetch(started.upload.url, { method: "POST", body: form });
      if (!res.ok) {
        setErrors({ file: t("import.uploadfailed", { status: res.status }) });
        return;
      }
      setCurrent({ ...started.import, status: "processing" });
    } catch (err: unknown) {
      setErrors(errorsOf(err));
    } finally {
      setBusy(false);
    }
  };
  const exportAll = () => void exportContacts(groupId || null).catch((err: unknown) => setErrors(errorsOf(err)));
  const done = current !== null && FINAL.has(current.status);
  return (
    <section class="card wide" aria-labelledby="import-title">
      <p>
        <a href="/contacts">{t("contacts.back")}</a>
      </p>
      <h1 id="import-title">{t("import.title")}</h1>
      <p class="muted">{t("import.hint")}</p>
      <form aria-label={t("import.title")} onSubmit={(e) => void start(e)}>
        <FormError errors={errors} known={["file", "group_id", "header", ...(columns?.columns.map((c) => `mapping.${c.header}`) ?? [])]} />
        <Field label={t("import.file")} name="file" errors={errors}>
          {(p) => <input {...p} type="file" accept=".csv,.txt,text/csv,text/plain" onChange={(e) => choose((e.target as HTMLInputElement).files?.[0] ?? null)} />}
        </Field>
        {columns ? (
          <fieldset class="mapping" data-testid="import-mapping">
            <legend>{t("import.mapping")}</legend>
            <p class="muted small-text">{t("import.mappinghint")}</p>
            <div class="grid2">
              {columns.columns.map((c, i) => (
                <Field key={`${i}:${c.header}`} label={c.header} name={`mapping.${c.header}`} errors={errors}>
                  {(p) => (
                    <select {...p} value={mapping[c.header] ?? ""} onChange={(e) => setMapping({ ...mapping, [c.header]: (e.target as HTMLSelectElement).value })}>
                      <option value="">{t("import.skip")}</option>
                      {IMPORTABLE.map((k) => (
                        <option key={k} value={k}>
                          {t(`contacts.${k}` as Key)}
                        </option>
                      ))}
                      {defs.map((d) => (
                        <option key={d.key} value={`custom_fields.${d.key}`}>
                          {d.label}
                        </option>
                      ))}
                    </select>
                  )}
                </Field>
              ))}
            </div>
          </fieldset>
        ) : null}
        <Field label={t("import.group")} name="group_id" errors={errors}>
          {(p) => (
            <select {...p} value={groupId} onChange={(e) => setGroupId((e.target as HTMLSelectElement).value)}>
              <option value="">{t("import.nogroup")}</option>
              {groups.map((g) => (
                <option key={g.id} value={g.id}>
                  {g.name}
                </option>
              ))}
            </select>
          )}
        </Field>
        <div class="row">
          <button type="submit" class="primary" disabled={busy || (current !== null && !done)}>
            {t("import.start")}
          </button>
          {admin ? (
            <button type="button" onClick={exportAll}>
              {groupId ? t("import.exportgroup") : t("import.export")}
            </button>
          ) : null}
        </div>
      </form>
      {current ? <ImportReport imp={current} /> : null}
      <PastImports tick={pastTick} onShow={setCurrent} />
    </section>
  );
}

/** The imports made so far, newest first; each one's report on demand. */
function PastImports({ tick, onShow }: { tick: number; onShow: (imp: ContactImportState) => void }) {
  const [items, setItems] = useState<ContactImportState[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const load = (after: string | null, before: ContactImportState[]) =>
    get<Page<ContactImportState>>(`/v1/contact-imports${qs({ limit: 10, cursor: after })}`).then(
      (p) => {
        setItems([...before, ...p.items]);
        setCursor(p.next_cursor ?? null);
      },
      () => setItems(before),
    );
  useEffect(() => void load(null, []), [tick]);
  return (
    <section aria-labelledby="past-imports">
      <h2 id="past-imports">{t("import.past")}</h2>
      {items?.length === 0 ? <p class="muted">{t("import.nopast")}</p> : null}
      {items?.length ? (
        <div class="table-wrap">
          <table data-testid="past-imports">
            <thead>
              <tr>
                <th scope="col">{t("import.when")}</th>
                <th scope="col">{t("import.filename")}</th>
                <th scope="col">{t("import.status")}</th>
                <th scope="col">{t("import.created")}</th>
                <th scope="col">{t("import.updated")}</th>
                <th scope="col">{t("import.failedrows")}</th>
                <th scope="col">
                  <span class="sr-only">{t("common.actions")}</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {items.map((imp) => (
                <tr key={imp.id} data-import={imp.id}>
                  <td class="nowrap">{dateTime(imp.created_at)}</td>
                  <td>{imp.file_name ?? ""}</td>
                  <td>{imp.status === "done" ? t("import.done") : imp.status === "failed" ? t("import.failed") : t("import.processing")}</td>
                  <td>{imp.created}</td>
                  <td>{imp.updated}</td>
                  <td>{imp.failed}</td>
                  <td>
                    <button type="button" class="small" aria-label={`${t("import.report")} – ${imp.file_name ?? imp.id}`} onClick={() => onShow(imp)}>
                      {t("import.report")}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {cursor && items ? (
        <button type="button" class="small" onClick={() => void load(cursor, items)}>
          {t("import.morepast")}
        </button>
      ) : null}
    </section>
  );
}

function ImportReport({ imp }: { imp: ContactImportState }) {
  const done = FINAL.has(imp.status);
  return (
    <section aria-labelledby="import-report" data-testid="import-report" data-status={imp.status}>
      <h2 id="import-report">{t("import.report")}</h2>
      <p role="status">{done ? (imp.status === "done" ? t("import.done") : t("import.failed")) : t("import.processing")}</p>
      {imp.error ? (
        <p class="error-banner" role="alert">
          {imp.error.message}
        </p>
      ) : null}
      <dl class="facts">
        <dt>{t("import.rows")}</dt>
        <dd data-count="rows">{imp.rows_total === null ? imp.rows : `${imp.rows} / ${imp.rows_total}`}</dd>
        <dt>{t("import.created")}</dt>
        <dd data-count="created">{imp.created}</dd>
        <dt>{t("import.updated")}</dt>
        <dd data-count="updated">{imp.updated}</dd>
        <dt>{t("import.failedrows")}</dt>
        <dd data-count="failed">{imp.failed}</dd>
      </dl>
      {imp.errors.length ? (
        <div class="table-wrap">
          <table data-testid="import-errors">
            <caption>{t("import.errors")}</caption>
            <thead>
              <tr>
                <th scope="col">{t("import.line")}</th>
                <th scope="col">{t("import.column")}</th>
                <th scope="col">{t("import.field")}</th>
                <th scope="col">{t("import.message")}</th>
              </tr>
            </thead>
            <tbody>
              {imp.errors.map((e, i) => (
                <tr key={i} data-line={e.line}>
                  <td>{e.line}</td>
                  <td>{e.column ?? ""}</td>
                  <td>{e.field ?? ""}</td>
                  <td>{e.message}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}
