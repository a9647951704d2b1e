/** Leads and deals (issue 16): /leads and /deals list them newest first, a page at a time
 * (GET /v1/leads | /v1/deals), create and edit them in a dialog (POST /v1/leads | /v1/deals,
 * PATCH /v1/leads/{id} | /v1/deals/{id}) and delete them (admins: DELETE, which also removes their
 * conversation links). The person is a contact picked by search (GET /v1/contacts?q=), the owner a
 * user (GET /v1/users), a deal's stage one of its pipeline's (GET /v1/pipelines). */
import { useEffect, useState } from "preact/hooks";
import { api, get, post, qs, type Contact, type Page, type User } from "../api";
import { Dialog, errorsOf, Field, FormError, type FieldErrors } from "../components";
import { t, type Key } from "../i18n";
import { contactLabel, Pager, useContactSearch } from "./Contacts";
import type { CrmItem } from "./Crm";

type Kind = "lead" | "deal";
interface Pipeline {
  id: string;
  name: string;
  stages: { id: string; name: string }[];
}

const PLURAL: Record<Kind, string> = { lead: "leads", deal: "deals" };
const PAGE = 25;
const STATUSES: CrmItem["status"][] = ["open", "won", "lost"];

/** /leads or /deals: the list (title, status, stage, value, person), new, edit, delete. */
export function CrmItems({ kind, admin }: { kind: Kind; admin: boolean }) {
  const [cursors, setCursors] = useState<(string | null)[]>([null]); // the cursor of each page seen
  const [page, setPage] = useState<Page<CrmItem> | null>(null);
  const [errors, setErrors] = useState<FieldErrors>({});
  const [tick, setTick] = useState(0);
  const [pipelines, setPipelines] = useState<Pipeline[]>([]);
  const [people, setPeople] = useState<Record<string, Contact | null>>({});
  const [editing, setEditing] = useState<string | null>(null); // an item's id, or "" for a new one
  const [saved, setSaved] = useState(false);
  const cursor = cursors[cursors.length - 1] ?? null;
  useEffect(() => {
    let live = true;
    get<Page<CrmItem>>(`/v1/${PLURAL[kind]}${qs({ limit: PAGE, cursor })}`).then(
      (p) => {
        if (!live) return;
        setPage(p);
        setErrors({});
      },
      (e: unknown) => live && setErrors(errorsOf(e)),
    );
    return () => {
      live = false;
    };
  }, [cursor, tick]);
  useEffect(() => {
    if (kind === "deal") void get<{ items: Pipeline[] }>("/v1/pipelines").then((p) => setPipelines(p.items), () => undefined);
  }, []);
  useEffect(() => {
    // the persons' names: each contact once (null: deleted since)
    const missing = [...new Set((page?.items ?? []).map((i) => i.person_id))].filter((id) => !(id in people));
    if (!missing.length) return;
    void Promise.all(missing.map((id) => get<Contact>(`/v1/contacts/${encodeURIComponent(id)}`).then((c) => [id, c] as const, () => [id, null] as const))).then(
      (found) => setPeople((old) => ({ ...old, ...Object.fromEntries(found) })),
    );
  }, [page]);
  const stageName = (i: CrmItem) => {
    const pl = pipelines.find((p) => p.id === i.pipeline_id);
    const st = pl?.stages.find((s) => s.id === i.stage_id);
    return pl ? `${pl.name}: ${st?.name ?? i.stage_id}` : (i.stage_id ?? "");
  };
  const remove = async (i: CrmItem) => {
    if (!confirm(t("crmlist.deleteconfirm", { title: i.title }))) return;
    setErrors({});
    setSaved(false);
    try {
      await api("DELETE", `/v1/${PLURAL[kind]}/${encodeURIComponent(i.id)}`);
      setTick(tick + 1);
    } catch (e) {
      setErrors(errorsOf(e));
    }
  };
  const heading = kind === "lead" ? t("nav.leads") : t("nav.deals");
  return (
    <section class="card wide" aria-labelledby="crm-list-title">
      <div class="row wrap">
        <h1 id="crm-list-title">{heading}</h1>
        <span class="row">
          <span class="success" role="status">
            {saved ? t("common.saved") : ""}
          </span>
          <button
            type="button"
            class="primary"
            onClick={() => {
              setSaved(false);
              setEditing("");
            }}
          >
            {t(`crmlist.new${kind}` as Key)}
          </button>
        </span>
      </div>
      <FormError errors={errors} known={[]} />
      {page === null && !Object.keys(errors).length ? <p class="muted">{t("common.loading")}</p> : null}
      {page?.items.length === 0 ? <p class="muted">{t(`crmlist.no${kind}s` as Key)}</p> : null}
      {page?.items.length ? (
        <div class="table-wrap">
          <table data-testid="crm-items">
            <thead>
              <tr>
                <th scope="col">{t("crm.title")}</th>
                <th scope="col">{t("crm.status")}</th>
                {kind === "deal" ? <th scope="col">{t("crm.stage")}</th> : null}
                <th scope="col">{t("crm.value")}</th>
                <th scope="col">{t("crm.person")}</th>
                <th scope="col">{t("common.actions")}</th>
              </tr>
            </thead>
            <tbody>
              {page.items.map((i) => {
                const person = people[i.person_id];
                return (
                  <tr key={i.id} data-item={i.id}>
                    <td>
                      <a href={`/${PLURAL[kind]}/${encodeURIComponent(i.id)}`}>{i.title}</a>
                    </td>
                    <td>{t(`crm.status.${i.status}` as Key)}</td>
                    {kind === "deal" ? <td>{stageName(i)}</td> : null}
                    <td class="nowrap">{i.value !== null ? `${i.value} ${i.currency ?? ""}` : ""}</td>
                    <td>
                      {person ? (
                        <a href={`/contacts/${encodeURIComponent(person.id)}`}>{contactLabel(person)}</a>
                      ) : person === null ? (
                        <span class="muted">{t("crmlist.persongone")}</span>
                      ) : (
                        <span class="muted">…</span>
                      )}
                    </td>
                    <td class="nowrap">
                      <button
                        type="button"
                        class="small"
                        aria-label={t("crmlist.edititem", { title: i.title })}
                        onClick={() => {
                          setSaved(false);
                          setEditing(i.id);
                        }}
                      >
                        {t("crmlist.edit")}
                      </button>{" "}
                      {admin ? (
                        <button type="button" class="small danger" aria-label={t("crmlist.deleteitem", { title: i.title })} onClick={() => void remove(i)}>
                          {t("common.delete")}
                        </button>
                      ) : null}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      ) : null}
      <Pager
        pageNo={cursors.length}
        prev={cursors.length > 1 ? () => setCursors(cursors.slice(0, -1)) : null}
        next={page?.next_cursor ? () => setCursors([...cursors, page.next_cursor ?? null]) : null}
      />
      {editing !== null ? (
        <ItemDialog
          kind={kind}
          id={editing || null}
          onClose={() => setEditing(null)}
          onSaved={(item) => {
            setEditing(null);
            setSaved(true);
            setPeople((old) => {
              const { [item.person_id]: _, ...rest } = old; // the person may have changed: read again
              return rest;
            });
            if (editing) setTick(tick + 1);
            else if (cursors.length > 1) setCursors([null]); // a new item is the newest: the first page
            else setTick(tick + 1);
          }}
        />
      ) : null}
    </section>
  );
}

interface FormData {
  item: CrmItem | null;
  person: Contact | null;
  users: User[];
  pipelines: Pipeline[];
}

/** Loads what the form edits (the item, its person, the users, the pipelines), then shows the form:
 * never a form that its data would replace under the cursor. */
function ItemDialog({ kind, id, onClose, onSaved }: { kind: Kind; id: string | null; onClose: () => void; onSaved: (i: CrmItem) => void }) {
  const [data, setData] = useState<FormData | null>(null);
  const [errors, setErrors] = useState<FieldErrors>({});
  useEffect(() => {
    let live = true;
    const load = async (): Promise<FormData> => {
      const [item, users, pipelines] = await Promise.all([
        id ? get<CrmItem>(`/v1/${PLURAL[kind]}/${encodeURIComponent(id)}`) : Promise.resolve(null),
        get<Page<User>>("/v1/users?limit=100").then(
          (p) => p.items,
          () => [] as User[],
        ),
        kind === "deal" ? get<{ items: Pipeline[] }>("/v1/pipelines").then((p) => p.items) : Promise.resolve([] as Pipeline[]),
      ]);
      const person = item ? await get<Contact>(`/v1/contacts/${encodeURIComponent(item.person_id)}`).catch(() => null) : null;
      return { item, person, users, pipelines };
    };
    load().then(
      (d) => live && setData(d),
      (e: unknown) => live && setErrors(errorsOf(e)),
    );
    return () => {
      live = false;
    };
  }, []);
  const title = t(`crmlist.${id ? "edit" : "new"}${kind}` as Key);
  return (
    <Dialog title={title} onClose={onClose}>
      {data ? (
        <ItemForm kind={kind} data={data} label={title} onClose={onClose} onSaved={onSaved} />
      ) : (
        <>
          <FormError errors={errors} known={[]} />
          {Object.keys(errors).length ? null : <p class="muted">{t("common.loading")}</p>}
        </>
      )}
    </Dialog>
  );
}

function ItemForm({ kind, data, label, onClose, onSaved }: { kind: Kind; data: FormData; label: string; onClose: () => void; onSaved: (i: CrmItem) => void }) {
  const { item } = data;
  const [title, setTitle] = useState(item?.title ?? "");
  const [person, setPerson] = useState<Contact | null>(data.person);
  const [q, setQ] = useState("");
  const search = useContactSearch(q, 8);
  const [owner, setOwner] = useState(item?.owner_id ?? "");
  const [value, setValue] = useState(item?.value ?? "");
  const [currency, setCurrency] = useState(item?.currency ?? "");
  const [status, setStatus] = useState<CrmItem["status"]>(item?.status ?? "open");
  const firstPipeline = data.pipelines.find((p) => p.id === "default") ?? data.pipelines[0];
  const [pipelineId, setPipelineId] = useState(item?.pipeline_id ?? firstPipeline?.id ?? "");
  const [stageId, setStageId] = useState(item?.stage_id ?? firstPipeline?.stages[0]?.id ?? "");
  const [errors, setErrors] = useState<FieldErrors>({});
  const [busy, setBusy] = useState(false);
  const pipeline = data.pipelines.find((p) => p.id === pipelineId);
  const found = q.trim() ? (search.items ?? []).filter((c) => c.id !== person?.id) : [];
  const users = owner && !data.users.some((u) => u.user_id === owner) ? [...data.users, { user_id: owner, name: owner, email: "" } as User] : data.users;
  const submit = async (e: Event) => {
    e.preventDefault();
    setErrors({});
    setBusy(true);
    const body: Record<string, unknown> = {
      title: title.trim(),
      value: value.trim() || null,
      currency: currency.trim() || null,
      status,
    };
    if (person || !item) body["person_id"] = person?.id ?? "";
    if (owner) body["owner_id"] = owner;
    if (kind === "deal") {
      if (pipelineId) body["pipeline_id"] = pipelineId;
      if (stageId) body["stage_id"] = stageId;
    }
    try {
      const url = `/v1/${PLURAL[kind]}`;
      onSaved(item ? await api<CrmItem>("PATCH", `${url}/${encodeURIComponent(item.id)}`, body) : await post<CrmItem>(url, body));
    } catch (err) {
      setErrors(errorsOf(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="stack" onSubmit={(e) => void submit(e)} aria-label={label}>
      <Field label={t("crm.title")} name="title" errors={errors}>
        {(p) => <input {...p} required maxLength={200} value={title} onInput={(e) => setTitle((e.target as HTMLInputElement).value)} />}
      </Field>
      <Field
        label={t("crm.person")}
        name="person_id"
        errors={errors}
        hint={person ? t("crmlist.personchosen", { name: contactLabel(person) }) : t("crmlist.personnone")}
      >
        {(p) => <input {...p} type="search" autoComplete="off" value={q} onInput={(e) => setQ((e.target as HTMLInputElement).value)} />}
      </Field>
      {found.length ? (
        <ul class="picklist" data-testid="person-choices">
          {found.map((c) => (
            <li key={c.id}>
              <button
                type="button"
                class="link"
                onClick={() => {
                  setPerson(c);
                  setQ("");
                }}
              >
                {t("crmlist.choose", { name: contactLabel(c) })}
              </button>
              <span class="muted"> {c.mobile ?? ""}</span>
            </li>
          ))}
        </ul>
      ) : null}
      <Field label={t("crmlist.owner")} name="owner_id" errors={errors}>
        {(p) => (
          <select {...p} value={owner} onChange={(e) => setOwner((e.target as HTMLSelectElement).value)}>
            {item ? null : <option value="">{t("crmlist.ownerme")}</option>}
            {users.map((u) => (
              <option key={u.user_id} value={u.user_id}>
                {u.name}
              </option>
            ))}
          </select>
        )}
      </Field>
      <Field label={t("crm.value")} name="value" errors={errors} hint={t("crmlist.valuehint")}>
        {(p) => <input {...p} inputMode="decimal" autoComplete="off" value={value} onInput={(e) => setValue((e.target as HTMLInputElement).value)} />}
      </Field>
      <Field label={t("crmlist.currency")} name="currency" errors={errors} hint={t("crmlist.currencyhint")}>
        {(p) => <input {...p} maxLength={3} autoComplete="off" value={currency} onInput={(e) => setCurrency((e.target as HTMLInputElement).value)} />}
      </Field>
      <Field label={t("crm.status")} name="status" errors={errors}>
        {(p) => (
          <select {...p} value={status} onChange={(e) => setStatus((e.target as HTMLSelectElement).value as CrmItem["status"])}>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {t(`crm.status.${s}` as Key)}
              </option>
            ))}
          </select>
        )}
      </Field>
      {kind === "deal" ? (
        <>
          <Field label={t("crmlist.pipeline")} name="pipeline_id" errors={errors}>
            {(p) => (
              <select
                {...p}
                value={pipelineId}
                onChange={(e) => {
                  const next = (e.target as HTMLSelectElement).value;
                  setPipelineId(next);
                  setStageId(data.pipelines.find((x) => x.id === next)?.stages[0]?.id ?? "");
                }}
              >
                {data.pipelines.map((x) => (
                  <option key={x.id} value={x.id}>
                    {x.name}
                  </option>
                ))}
              </select>
            )}
          </Field>
          <Field label={t("crm.stage")} name="stage_id" errors={errors}>
            {(p) => (
              <select {...p} value={stageId} onChange={(e) => setStageId((e.target as HTMLSelectElement).value)}>
                {(pipeline?.stages ?? []).map((s) => (
                  <option key={s.id} value={s.id}>
                    {s.name}
                  </option>
                ))}
              </select>
            )}
          </Field>
        </>
      ) : null}
      <FormError errors={errors} known={["title", "person_id", "owner_id", "value", "currency", "status", "pipeline_id", "stage_id"]} />
      <div class="row">
        <button type="button" onClick={onClose}>
          {t("common.cancel")}
        </button>
        <button type="submit" class="primary" disabled={busy}>
          {t("common.save")}
        </button>
      </div>
    </form>
  );
}
