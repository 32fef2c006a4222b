//! The HTTP API (SPEC §5): JSON for scripts and other systems, with a session cookie or an
//! API token. Errors answer `{"error": "<reason>"}` with a 4xx status.

use crate::web::AppState;
use app::auth::Caller;
use app::import::mapping::Mapping;
use app::jobs::{self as imports, NewImport};
use app::model::{
    AccountFilter, AppError, ClientFilter, CurrentUser, Delimiter, ImportAction, Role,
};
use app::services::audit::{self, Entry, action};
use app::services::browse::{self, ListQuery, MAX_PER_PAGE};
use app::services::import_views::{self, JobFilter};
use axum::extract::{DefaultBodyLimit, Extension, Multipart, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde::Deserialize;

/// An error as the API answers it.
pub struct ApiError(AppError);

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        ApiError(e)
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(e: sea_orm::DbErr) -> Self {
        ApiError(e.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (
            status,
            Json(serde_json::json!({"error": self.0.to_string()})),
        )
            .into_response();
        if let AppError::TooManyRequests { retry_after, .. } = &self.0 {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, (*retry_after).into());
        }
        response
    }
}

type ApiResult<T> = Result<T, ApiError>;

fn bad_request(text: impl Into<String>) -> ApiError {
    ApiError(AppError::Request(text.into()))
}

/// The signed-in user, if their role is one of `roles`; a refusal is audited.
async fn require(
    state: &AppState,
    caller: &Caller,
    roles: &[Role],
    what: &str,
) -> ApiResult<CurrentUser> {
    let Some(user) = caller.user.clone() else {
        return Err(AppError::Unauthorized.into());
    };
    if !roles.contains(&user.role) {
        audit::record_best_effort(
            &state.ctx.db,
            caller,
            Entry {
                action: action::FORBIDDEN,
                subject: Some(what.to_owned()),
                details: Some(format!("role {}", user.role)),
            },
        )
        .await;
        return Err(AppError::Forbidden.into());
    }
    Ok(user)
}

/// Job `id` for a signed-in user who may see it (any role; operators their own).
async fn visible_job(
    state: &AppState,
    caller: &Caller,
    id: &str,
    what: &str,
) -> ApiResult<app::entities::import_job::Model> {
    let user = require(state, caller, EVERYONE, what).await?;
    Ok(imports::visible(&state.ctx.db, caller, &user, path_id(id)?, false).await?)
}

/// `202 Accepted` with the job as it is now: it waits for (or is with) a worker.
async fn accepted(state: &AppState, job_id: i64) -> ApiResult<Response> {
    Ok((
        StatusCode::ACCEPTED,
        Json(import_views::record(&state.ctx.db, job_id).await?),
    )
        .into_response())
}

const EVERYONE: &[Role] = &Role::ALL;
use app::model::policy::{EXPORTERS, IMPORTERS};

/// Every route of `/api/v1`.
pub fn routes(state: &AppState) -> Router<AppState> {
    // The multipart envelope around the file is allowed a little room of its own.
    let upload_cap = state.ctx.settings.import_limits.max_bytes as usize + 64 * 1024;
    // An upload is given longer than other requests: a file of the largest size over a slow
    // line. Downloads answer at once and send their body afterwards, so the limit of a
    // request does not cut them short.
    let timeout = state.ctx.settings.request_timeout;
    let upload_timeout = crate::web::request_timeout(timeout.saturating_mul(4));
    let api_upload = listed(Router::new(), "POST", "/api/v1/imports", create_import)
        .layer(DefaultBodyLimit::max(upload_cap));
    // A browser shows an answer only once it has sent its whole request: the form's upload
    // reads (and drops) a file over the limit, up to `drain_cap`, before it answers, so that
    // the page says why instead of the browser's "connection reset".
    let form_upload = listed(Router::new(), "POST", "/imports/upload", upload_form)
        .layer(DefaultBodyLimit::max(drain_cap(upload_cap as u64) as usize));
    let uploads = api_upload.merge(form_upload).layer(upload_timeout);
    let mut api = Router::new();
    api = listed(api, "GET", "/api/v1/imports", list_imports);
    api = listed(api, "GET", "/api/v1/imports/events", import_events);
    api = listed(api, "GET", "/templates/{name}", template);
    api = listed(api, "GET", "/api/v1/imports/{id}", show_import);
    api = listed(api, "GET", "/api/v1/imports/{id}/messages", import_messages);
    api = listed(api, "GET", "/api/v1/imports/{id}/errors.csv", error_report);
    api = listed(api, "GET", "/api/v1/imports/{id}/file", original_file);
    api = listed(api, "POST", "/api/v1/imports/{id}/confirm", confirm_import);
    api = listed(api, "POST", "/api/v1/imports/{id}/discard", discard_import);
    api = listed(api, "POST", "/api/v1/imports/{id}/revert", revert_import);
    api = listed(api, "GET", "/api/v1/clients", list_clients);
    api = listed(api, "GET", "/api/v1/clients.csv", export_clients);
    api = listed(api, "GET", "/api/v1/accounts.csv", export_accounts);
    api = listed(api, "GET", "/api/v1/clients/{id}", show_client);
    api = listed(api, "GET", "/api/v1/accounts", list_accounts);
    api = listed(api, "GET", "/api/v1/ib-programs", list_programs);
    api = listed(api, "POST", "/api/v1/ib-programs", create_program);
    api.route("/api/v1/{*rest}", axum::routing::any(no_such_endpoint))
        .layer(crate::web::request_timeout(timeout))
        .merge(uploads)
}

/// Routes `method` `path` to `handler`, once the access table (`crate::access`) has its row:
/// a route nobody decided who may call does not start.
fn listed<H, T>(
    router: Router<AppState>,
    method: &'static str,
    path: &'static str,
    handler: H,
) -> Router<AppState>
where
    H: axum::handler::Handler<T, AppState>,
    T: 'static,
{
    assert!(
        crate::access::api_row(method, path).is_some(),
        "{method} {path} has no row in server/src/access.rs"
    );
    let filter = match method {
        "GET" => axum::routing::MethodFilter::GET,
        "POST" => axum::routing::MethodFilter::POST,
        other => panic!("{other} {path}: add the method to `listed`"),
    };
    router.route(path, axum::routing::on(filter, handler))
}

async fn no_such_endpoint() -> ApiError {
    ApiError(AppError::NotFound("There is no such API endpoint.".into()))
}

/// `page`, `per_page` and filters arrive as text so a bad value gets a clear answer.
#[derive(Debug, Default, Deserialize)]
pub struct ListParams {
    search: Option<String>,
    page: Option<String>,
    per_page: Option<String>,
    status: Option<String>,
    action: Option<String>,
    level: Option<String>,
}

fn number(name: &str, value: &Option<String>) -> ApiResult<Option<u64>> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(|v| {
            v.parse::<u64>()
                .map_err(|_| bad_request(format!("`{name}` must be a whole number, not `{v}`.")))
        })
        .transpose()
}

impl ListParams {
    fn list(&self) -> ApiResult<ListQuery> {
        Ok(ListQuery::new(
            self.search.clone(),
            number("page", &self.page)?,
            number("per_page", &self.per_page)?,
        ))
    }
}

fn path_id(id: &str) -> ApiResult<i64> {
    id.parse()
        .map_err(|_| ApiError(AppError::NotFound(format!("There is no record `{id}`."))))
}

async fn list_imports(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(params): Query<ListParams>,
) -> ApiResult<impl IntoResponse> {
    let user = require(&state, &caller, EVERYONE, "GET /api/v1/imports").await?;
    let status = params
        .status
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(str::parse::<app::model::JobStatus>)
        .transpose()
        .map_err(bad_request)?;
    let filter = JobFilter {
        status,
        action: params.action.clone().filter(|a| !a.is_empty()),
        initiated_by: None,
    };
    Ok(Json(
        import_views::list(&state.ctx.db, &user, &filter, &params.list()?).await?,
    ))
}

/// A yes/no field of a form: `true`, `on` or `1`; `false`, `0` or empty.
fn flag(name: &str, value: &str) -> ApiResult<bool> {
    match value.trim() {
        "true" | "on" | "1" => Ok(true),
        "false" | "" | "0" => Ok(false),
        other => Err(bad_request(format!(
            "`{name}` must be true or false, not `{other}`."
        ))),
    }
}

/// How much of a request over the upload limit the upload form reads before answering:
/// four times the limit. A larger request is refused at once, and its browser shows a reset
/// connection.
fn drain_cap(upload_cap: u64) -> u64 {
    upload_cap.saturating_mul(4)
}

/// Where an upload comes from, which decides what happens to a file over the limit and to
/// one most of whose columns match nothing.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Sender {
    /// `POST /api/v1/imports`: a file over the limit is answered at once (a client of the
    /// API reads the answer while sending), and the columns that match are imported.
    Api,
    /// A page's upload form: the rest of a file over the limit is read and dropped before
    /// the answer, and a file most of whose columns match nothing goes to the mapping step.
    Form,
}

/// Reads the upload field by field; the file is refused as soon as it passes the limit.
async fn read_upload(mut form: Multipart, max_bytes: u64, sender: Sender) -> ApiResult<NewImport> {
    let (mut title, mut description, mut action, mut delimiter, mut validate_only) =
        (None, None, None, Delimiter::Auto, false);
    let mut mapping: Option<String> = None;
    let mut review_mapping = false;
    let mut submission = None;
    let mut file: Option<(String, Vec<u8>)> = None;
    let multipart_error = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError(AppError::TooLarge(app::model::too_large(max_bytes)))
        } else {
            bad_request(format!("The upload could not be read: {}", e.body_text()))
        }
    };
    while let Some(mut field) = form.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "file" {
            let file_name = field.file_name().unwrap_or("upload.csv").to_owned();
            let too_large = || ApiError(AppError::TooLarge(app::model::too_large(max_bytes)));
            let (mut bytes, mut over) = (Vec::new(), false);
            while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
                if over {
                    // Read and dropped (the route's body limit stops a request that goes on
                    // too long).
                    continue;
                }
                if (bytes.len() + chunk.len()) as u64 > max_bytes {
                    if sender == Sender::Api {
                        return Err(too_large());
                    }
                    (bytes, over) = (Vec::new(), true);
                    continue;
                }
                bytes.extend_from_slice(&chunk);
            }
            if over {
                drop(field);
                while let Some(rest) = form.next_field().await.map_err(multipart_error)? {
                    drop(rest.bytes().await.map_err(multipart_error)?);
                }
                return Err(too_large());
            }
            file = Some((file_name, bytes));
            continue;
        }
        let value = field.text().await.map_err(multipart_error)?;
        match name.as_str() {
            "title" => title = Some(value),
            "description" => description = Some(value),
            "mapping" if !value.trim().is_empty() => mapping = Some(value),
            "action" => action = Some(value.parse::<ImportAction>().map_err(bad_request)?),
            "delimiter" if !value.trim().is_empty() => {
                delimiter = value.parse().map_err(bad_request)?;
            }
            "validate_only" => validate_only = flag("validate_only", &value)?,
            "review_mapping" => review_mapping = flag("review_mapping", &value)?,
            "submission" => {
                submission = app::jobs::submission_key(&value).map_err(ApiError)?;
            }
            _ => {}
        }
    }
    let (file_name, bytes) = file.ok_or_else(|| bad_request("The `file` field is missing."))?;
    let action = action.ok_or_else(|| {
        bad_request("The `action` field is missing: import-users, import-accounts or import-ibs.")
    })?;
    let mapping = mapping
        .map(|m| Mapping::from_json(action, &m))
        .transpose()
        .map_err(bad_request)?;
    Ok(NewImport {
        title: title.ok_or_else(|| bad_request("The `title` field is missing."))?,
        description,
        action,
        delimiter,
        file_name,
        file: bytes.into(),
        validate_only,
        mapping,
        review_mapping,
        map_if_unmatched: sender == Sender::Form,
        submission,
    })
}

/// Checks the caller, refuses a body announced as too large before reading it, and
/// queues the job.
async fn start_import(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    form: Multipart,
    what: &str,
    sender: Sender,
) -> ApiResult<app::entities::import_job::Model> {
    let user = require(state, caller, IMPORTERS, what).await?;
    let limits = state.ctx.settings.import_limits;
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let upload_cap = limits.max_bytes + 64 * 1024;
    let read_at_most = match sender {
        Sender::Api => upload_cap,
        Sender::Form => drain_cap(upload_cap),
    };
    if announced.is_some_and(|n| n > read_at_most) {
        return Err(ApiError(AppError::TooLarge(app::model::too_large(
            limits.max_bytes,
        ))));
    }
    let upload = read_upload(form, limits.max_bytes, sender).await?;
    let job = imports::create(&state.ctx.db, caller, &user, upload, limits, None).await?;
    state.ctx.import_queue.notify_one();
    Ok(job)
}

async fn create_import(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    form: Multipart,
) -> ApiResult<impl IntoResponse> {
    let job = start_import(
        &state,
        &caller,
        &headers,
        form,
        "POST /api/v1/imports",
        Sender::Api,
    )
    .await?;
    accepted(&state, job.id).await
}

/// The pages an upload form is on; a refused upload goes back there with the reason.
#[derive(Debug, Deserialize)]
pub struct UploadFrom {
    from: Option<String>,
}

impl UploadFrom {
    fn page(&self) -> &'static str {
        match self.from.as_deref() {
            Some("clients") => "/clients",
            Some("accounts") => "/accounts",
            Some("ib-programs") => "/ib-programs",
            _ => "/imports/new",
        }
    }
}

/// The upload form of the pages (works without JavaScript): on success the browser is
/// sent to the new job's page, otherwise back to the form with the reason.
async fn upload_form(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(from): Query<UploadFrom>,
    headers: HeaderMap,
    form: Multipart,
) -> Response {
    let started = start_import(
        &state,
        &caller,
        &headers,
        form,
        "POST /imports/upload",
        Sender::Form,
    )
    .await;
    match started {
        // The wizard goes on with the mapping step.
        Ok(job) if job.status == app::model::JobStatus::AwaitingMapping => {
            axum::response::Redirect::to(&format!("/imports/{}/mapping", job.id)).into_response()
        }
        Ok(job) => axum::response::Redirect::to(&format!("/imports/{}", job.id)).into_response(),
        Err(ApiError(AppError::Unauthorized)) => {
            axum::response::Redirect::to("/login").into_response()
        }
        Err(ApiError(e)) => axum::response::Redirect::to(&format!(
            "{}?import_error={}",
            from.page(),
            crate::web::urlencode(&e.to_string())
        ))
        .into_response(),
    }
}

/// A template file for an action: `import-users.csv`, `import-accounts.csv`, `import-ibs.csv`.
async fn template(Path(name): Path<String>) -> ApiResult<Response> {
    let action = name
        .strip_suffix(".csv")
        .and_then(|a| a.parse::<ImportAction>().ok())
        .ok_or_else(|| {
            ApiError(AppError::NotFound(format!(
                "There is no template `{name}`."
            )))
        })?;
    Ok(attachment(
        "text/csv; charset=utf-8",
        &format!("{action}-template.csv"),
        app::import::header::template(action).into_bytes(),
    ))
}

/// How long one event stream lasts. The browser reconnects at once, through the same
/// checks as any request, so a user who was signed out or disabled stops receiving events
/// within this time.
const EVENT_STREAM_LIFETIME: std::time::Duration = std::time::Duration::from_secs(300);
/// How long an open event stream trusts what it read of its user (active, role, desks).
const RECHECK_STREAM_USER: std::time::Duration = std::time::Duration::from_secs(2);
/// The data of a `resync` event. Not empty: a browser does not dispatch an event without
/// data (the HTML standard's event stream rules), and axum writes no `data:` line for "".
const RESYNC: &str = "reload";

/// How often an idle event stream is written to (see `import_events`).
const STREAM_KEEP_ALIVE: std::time::Duration = std::time::Duration::from_secs(4);

/// Server-sent events: every change of a job the caller may see, as `event: job` with the
/// job's JSON (SPEC §3.4). Each instance reads the shared database, so a job run by
/// another instance is followed as well. Every stream starts with `event: resync`: the
/// page reloads what it shows, since whatever changed before the stream was open was not
/// sent.
async fn import_events(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    session: Option<Extension<tower_sessions::Session>>,
    headers: HeaderMap,
) -> ApiResult<impl IntoResponse> {
    use app::services::live::StreamCredential;
    use axum::response::sse::{Event, KeepAlive, Sse};
    use tokio::sync::broadcast::error::RecvError;
    let user = require(&state, &caller, EVERYONE, "GET /api/v1/imports/events").await?;
    // What signed the request in, read again with the user: a stream whose session was
    // signed out (or whose token stopped working) ends.
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| StreamCredential::Token(t.trim().to_owned()));
    let credential = bearer
        .or_else(|| {
            session
                .and_then(|Extension(s)| s.id())
                .map(|id| StreamCredential::Session(id.to_string()))
        })
        .ok_or(ApiError(AppError::Unauthorized))?;
    let place = state.ctx.live.open_stream(user.id).ok_or_else(|| {
        ApiError(AppError::TooManyRequests {
            message: format!(
                "You have {} live pages open already; close some tabs and reload this one.",
                app::services::live::MAX_STREAMS_PER_USER
            ),
            retry_after: 5,
        })
    })?;
    let changes = state.ctx.live.subscribe();
    let ends = tokio::time::Instant::now() + EVENT_STREAM_LIFETIME;
    let first = Event::default()
        .event("resync")
        .retry(std::time::Duration::from_secs(1))
        .data(RESYNC);
    let opening =
        futures_util::stream::once(async move { Ok::<_, std::convert::Infallible>(first) });
    let db = state.ctx.db.clone();
    // The place travels with the stream and is freed when the stream ends or is dropped.
    let stream = futures_util::stream::unfold(
        (changes, user, place, tokio::time::Instant::now()),
        move |(mut changes, mut user, place, mut checked)| {
            let (db, credential) = (db.clone(), credential.clone());
            async move {
                loop {
                    let event = match tokio::time::timeout_at(ends, changes.recv()).await {
                        Err(_) => return None,
                        Ok(Ok(job)) if app::services::live::may_follow(&user, &job) => {
                            // What the user may follow is read again before an event goes out
                            // (at most every few seconds): a user disabled since the stream
                            // opened gets nothing more, one limited to some desks only their
                            // own imports.
                            if checked.elapsed() >= RECHECK_STREAM_USER {
                                let standing = match credential.holds(&db).await {
                                    Ok(true) => app::services::scope::standing(&db, user.id).await,
                                    Ok(false) => Ok(None),
                                    Err(e) => Err(e),
                                };
                                match standing {
                                    Ok(Some(now)) => user = now,
                                    Ok(None) => return None,
                                    Err(e) => {
                                        tracing::warn!(error = ?e, "could not read a streaming user");
                                        return None;
                                    }
                                }
                                checked = tokio::time::Instant::now();
                                if !app::services::live::may_follow(&user, &job) {
                                    continue;
                                }
                            }
                            Event::default().event("job").json_data(&job)
                        }
                        Ok(Ok(_)) => continue,
                        // Too slow to keep up: the page reloads its data instead.
                        Ok(Err(RecvError::Lagged(_))) => {
                            Ok(Event::default().event("resync").data(RESYNC))
                        }
                        Ok(Err(RecvError::Closed)) => return None,
                    };
                    match event {
                        Ok(event) => return Some((Ok(event), (changes, user, place, checked))),
                        Err(e) => tracing::warn!(error = %e, "could not encode a job event"),
                    }
                }
            }
        },
    );
    // A comment every few seconds: a page that was closed is noticed by the failed write
    // and its place freed (with axum's default of 15 s, a user reloading pages quickly
    // filled their places with streams nobody read).
    Ok(Sse::new(futures_util::StreamExt::chain(opening, stream))
        .keep_alive(KeepAlive::new().interval(STREAM_KEEP_ALIVE)))
}

async fn show_import(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let job = visible_job(&state, &caller, &id, "GET /api/v1/imports/{id}").await?;
    Ok(Json(import_views::record(&state.ctx.db, job.id).await?))
}

async fn import_messages(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Query(params): Query<ListParams>,
) -> ApiResult<impl IntoResponse> {
    let job = visible_job(&state, &caller, &id, "GET /api/v1/imports/{id}/messages").await?;
    let level = match params.level.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(l @ ("error" | "info" | "change")) => Some(l),
        Some(other) => {
            return Err(bad_request(format!(
                "Unknown level `{other}`: expected error, info or change."
            )));
        }
    };
    // The body stays the list of SPEC §5; a long list comes in pages of at most
    // `MAX_PER_PAGE`, with the total and the next page's address in headers.
    let query = ListQuery::new(
        None,
        number("page", &params.page)?,
        Some(number("per_page", &params.per_page)?.unwrap_or(MAX_PER_PAGE)),
    );
    let page = import_views::messages(&state.ctx.db, job.id, level, &query).await?;
    let mut headers = HeaderMap::new();
    headers.insert("x-total-count", HeaderValue::from(page.total));
    if query.offset().saturating_add(query.per_page) < page.total {
        let level = level.map(|l| format!("&level={l}")).unwrap_or_default();
        let next = format!(
            "</api/v1/imports/{}/messages?page={}&per_page={}{level}>; rel=\"next\"",
            job.id,
            query.page + 1,
            query.per_page
        );
        if let Ok(link) = HeaderValue::from_str(&next) {
            headers.insert(header::LINK, link);
        }
    }
    Ok((headers, Json(page.items)))
}

/// A download: the name is made of safe characters only.
fn attachment(content_type: &'static str, file_name: &str, body: Vec<u8>) -> Response {
    let safe: String = file_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{safe}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response()
}

async fn error_report(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let job = visible_job(&state, &caller, &id, "GET /api/v1/imports/{id}/errors.csv").await?;
    let csv = import_views::error_report(&state.ctx.db, &job).await?;
    Ok(attachment(
        "text/csv; charset=utf-8",
        &format!("import-{}-errors.csv", job.id),
        csv,
    ))
}

async fn original_file(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let job = visible_job(&state, &caller, &id, "GET /api/v1/imports/{id}/file").await?;
    Ok(attachment(
        "application/octet-stream",
        &job.file_name,
        imports::file_bytes(&state.ctx.db, job.id).await?,
    ))
}

async fn confirm_import(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let user = require(
        &state,
        &caller,
        IMPORTERS,
        "POST /api/v1/imports/{id}/confirm",
    )
    .await?;
    let job = imports::confirm(&state.ctx.db, &caller, &user, path_id(&id)?).await?;
    state.ctx.import_queue.notify_one();
    accepted(&state, job.id).await
}

async fn discard_import(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let user = require(
        &state,
        &caller,
        IMPORTERS,
        "POST /api/v1/imports/{id}/discard",
    )
    .await?;
    let job = imports::discard(&state.ctx.db, &caller, &user, path_id(&id)?).await?;
    Ok(Json(import_views::record(&state.ctx.db, job.id).await?))
}

async fn revert_import(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let user = require(
        &state,
        &caller,
        IMPORTERS,
        "POST /api/v1/imports/{id}/revert",
    )
    .await?;
    let wait = state.ctx.settings.revert_wait;
    let reverting =
        imports::revert_on_its_own(&state.ctx.db, &caller, &user, path_id(&id)?, wait).await?;
    let (status, job, revert) = match reverting {
        imports::Reverting::Done(job, report) => (
            StatusCode::OK,
            job,
            serde_json::json!({
                "deleted": report.deleted,
                "restored": report.restored,
                "not_reverted": report.not_reverted,
            }),
        ),
        // It goes on: the job's status says when it has ended.
        imports::Reverting::Running(job) => (StatusCode::ACCEPTED, job, serde_json::Value::Null),
    };
    let mut body = serde_json::to_value(import_views::record(&state.ctx.db, job.id).await?)
        .map_err(|_| ApiError(AppError::Internal))?;
    body["revert"] = revert;
    Ok((status, Json(body)))
}

type QueryMap = Query<std::collections::HashMap<String, String>>;

fn client_filter(q: &std::collections::HashMap<String, String>) -> ApiResult<ClientFilter> {
    ClientFilter::from_query(|k| q.get(k).cloned()).map_err(bad_request)
}

fn account_filter(q: &std::collections::HashMap<String, String>) -> ApiResult<AccountFilter> {
    AccountFilter::from_query(|k| q.get(k).cloned()).map_err(bad_request)
}

/// `page` and `per_page` of a query map.
fn list_of(q: &std::collections::HashMap<String, String>) -> ApiResult<ListQuery> {
    ListParams {
        search: q.get("search").cloned(),
        page: q.get("page").cloned(),
        per_page: q.get("per_page").cloned(),
        ..Default::default()
    }
    .list()
}

async fn list_clients(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(q): QueryMap,
) -> ApiResult<impl IntoResponse> {
    let user = require(&state, &caller, EVERYONE, "GET /api/v1/clients").await?;
    Ok(Json(
        browse::clients(
            &state.ctx.db,
            &list_of(&q)?,
            &client_filter(&q)?,
            &user.desks,
        )
        .await?,
    ))
}

async fn show_client(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let user = require(&state, &caller, EVERYONE, "GET /api/v1/clients/{id}").await?;
    let id = path_id(&id)?;
    let client = browse::client(&state.ctx.db, &user.desks, id).await?;
    let mut body = serde_json::to_value(client).map_err(|e| {
        tracing::error!(error = %e, "a client could not be written as JSON");
        ApiError(AppError::Internal)
    })?;
    // Extra attributes as an object from name to value.
    let attributes: serde_json::Map<String, serde_json::Value> =
        browse::client_attributes(&state.ctx.db, id)
            .await?
            .into_iter()
            .map(|(name, value)| (name, serde_json::Value::from(value)))
            .collect();
    body["attributes"] = serde_json::Value::Object(attributes);
    Ok(Json(body))
}

async fn list_accounts(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(q): QueryMap,
) -> ApiResult<impl IntoResponse> {
    let user = require(&state, &caller, EVERYONE, "GET /api/v1/accounts").await?;
    Ok(Json(
        browse::accounts(
            &state.ctx.db,
            &list_of(&q)?,
            &account_filter(&q)?,
            &user.desks,
        )
        .await?,
    ))
}

/// Rows read per query of an export.
const EXPORT_CHUNK: u64 = 5_000;

/// Exports reading the database at once; each holds one pooled connection while it reads.
const EXPORTS_AT_ONCE: usize = 2;
static EXPORTS: std::sync::LazyLock<tokio::sync::Semaphore> =
    std::sync::LazyLock::new(|| tokio::sync::Semaphore::new(EXPORTS_AT_ONCE));
/// The longest an export may read the database (and so hold a connection).
const EXPORT_DEADLINE: std::time::Duration = std::time::Duration::from_secs(120);
/// Bytes sent to the client at a time.
const EXPORT_PIECE: usize = 64 * 1024;

/// A CSV download. The export is first read, in one read-only transaction (one consistent
/// view even while an import writes), into an unnamed temporary file, as fast as the database
/// gives it; the connection goes back to the pool, and only then is the file sent, at whatever
/// pace the client reads. So a slow or stalled download never holds a database connection, at
/// most [`EXPORTS_AT_ONCE`] exports read at a time (the others wait, holding nothing), and
/// none reads for longer than [`EXPORT_DEADLINE`]. A failure part-way breaks the connection,
/// so the browser reports the download as failed instead of keeping a file that silently ends
/// early.
fn csv_download(
    disposition: &'static str,
    db: sea_orm::DatabaseConnection,
    export: impl app::services::export::CsvExport,
) -> Response {
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Vec<u8>>>(4);
    tokio::spawn(async move {
        let spooled = match tokio::time::timeout(EXPORT_DEADLINE, spool(&db, export)).await {
            Ok(Ok(file)) => file,
            Ok(Err(e)) => {
                tracing::error!(error = %e, "export stopped");
                let _ = tx
                    .send(Err(std::io::Error::other("the export stopped")))
                    .await;
                return;
            }
            Err(_) => {
                tracing::error!(deadline = ?EXPORT_DEADLINE, "export took longer than its deadline");
                let _ = tx
                    .send(Err(std::io::Error::other("the export took too long")))
                    .await;
                return;
            }
        };
        let mut file = tokio::fs::File::from_std(spooled);
        loop {
            let mut piece = vec![0; EXPORT_PIECE];
            let read = tokio::io::AsyncReadExt::read(&mut file, &mut piece).await;
            let piece = match read {
                Ok(0) => return,
                Ok(n) => {
                    piece.truncate(n);
                    Ok(piece)
                }
                Err(e) => {
                    tracing::error!(error = %e, "could not read a spooled export");
                    Err(e)
                }
            };
            let stop = piece.is_err();
            if tx.send(piece).await.is_err() || stop {
                return;
            }
        }
    });
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|piece| (piece, rx))
    });
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            ),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static(disposition),
            ),
        ],
        axum::body::Body::from_stream(body),
    )
        .into_response()
}

/// Reads a whole export into an unnamed temporary file (removed when closed), rewound.
async fn spool(
    db: &sea_orm::DatabaseConnection,
    mut export: impl app::services::export::CsvExport,
) -> Result<std::fs::File, AppError> {
    use tokio::io::{AsyncSeekExt, AsyncWriteExt};
    let io = |e: std::io::Error| {
        tracing::error!(error = %e, "could not write a spooled export");
        AppError::Internal
    };
    let _turn = EXPORTS.acquire().await.map_err(|_| AppError::Internal)?;
    let mut file = tokio::fs::File::from_std(tempfile::tempfile().map_err(io)?);
    let view = app::services::export::snapshot(db).await?;
    let header = export.header(&view).await?;
    file.write_all(&header).await.map_err(io)?;
    while let Some(rows) = export.next_rows(&view).await? {
        file.write_all(&rows).await.map_err(io)?;
    }
    view.rollback().await?;
    file.flush().await.map_err(io)?;
    file.rewind().await.map_err(io)?;
    Ok(file.into_std().await)
}

/// The clients of the current view (search, filters and sort of the Clients page) as CSV.
async fn export_clients(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(q): QueryMap,
) -> ApiResult<Response> {
    let user = require(&state, &caller, EXPORTERS, "GET /api/v1/clients.csv").await?;
    let filter = client_filter(&q)?;
    // A bad filter is answered now, not in the middle of the download.
    browse::client_query(&filter, &user.desks, state.ctx.db.get_database_backend())?;
    Ok(csv_download(
        "attachment; filename=\"clients.csv\"",
        state.ctx.db.clone(),
        app::services::export::ClientExport::new(browse::ClientChunks::new(
            filter,
            user.desks,
            EXPORT_CHUNK,
        )),
    ))
}

/// The accounts of the current view as CSV.
async fn export_accounts(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(q): QueryMap,
) -> ApiResult<Response> {
    let user = require(&state, &caller, EXPORTERS, "GET /api/v1/accounts.csv").await?;
    let filter = account_filter(&q)?;
    browse::account_query(&filter, &user.desks, state.ctx.db.get_database_backend())?;
    Ok(csv_download(
        "attachment; filename=\"accounts.csv\"",
        state.ctx.db.clone(),
        browse::AccountChunks::new(filter, user.desks, EXPORT_CHUNK),
    ))
}

async fn list_programs(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> ApiResult<impl IntoResponse> {
    let user = require(&state, &caller, EVERYONE, "GET /api/v1/ib-programs").await?;
    let items = browse::programs(&state.ctx.db, &user.desks).await?;
    let total = items.len() as u64;
    Ok(Json(app::model::Page {
        per_page: total.max(1),
        items,
        total,
        page: 1,
    }))
}

#[derive(Debug, Deserialize)]
pub struct NewProgram {
    id: Option<i64>,
    name: String,
}

async fn create_program(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<NewProgram>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<impl IntoResponse> {
    require(&state, &caller, &[Role::Admin], "POST /api/v1/ib-programs").await?;
    let Json(program) = body.map_err(|e| {
        bad_request(format!(
            "Send a JSON object such as {{\"id\": 10, \"name\": \"Gold\"}}: {}",
            e.body_text()
        ))
    })?;
    let created = browse::create_program(&state.ctx.db, &caller, program.id, &program.name).await?;
    Ok((StatusCode::CREATED, Json(created)))
}
