import { useEffect, useState } from "preact/hooks";
import { ApiError, get, post, qs, type Group, type Page } from "../api";
import { currentSession } from "../auth";
import { config } from "../config";
import { errorsOf, Field, FormError, type FieldErrors } from "../components";
import { t } from "../i18n";

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
}
interface ImportStarted {
  import: ContactImportState;
  upload: { url: string; fields: Record<string, string>; max_bytes: number };
}

const FINAL = new Set(["done", "failed"]);

/** Saves GET /v1/contacts/export (admin) as a file: fetched with the auth header, handed over as a Blob. */
export async function exportContacts(groupId?: string | null): Promise<void> {
  const token = currentSession()?.idToken;
  const res = await fetch(`${config().apiBase}/v1/contacts/export${qs({ group_id: groupId ?? null })}`, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
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
      const started = await post<ImportStarted>("/v1/contact-imports", { group_id: groupId || null, file_name: file.name });
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
        <FormError errors={errors} known={["file", "group_id"]} />
        <Field label={t("import.file")} name="file" errors={errors}>
          {(p) => <input {...p} type="file" accept=".csv,.txt,text/csv,text/plain" onChange={(e) => setFile((e.target as HTMLInputElement).files?.[0] ?? null)} />}
        </Field>
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
