use crate::model::AppError;
use leptos::prelude::*;

/// A message as a person reads it: the values it quotes between backticks (the form the
/// API, the command line and the error report keep) between quotation marks.
pub fn readable(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut open = false;
    for c in text.chars() {
        if c == '`' {
            out.push(if open { '”' } else { '“' });
            open = !open;
        } else {
            out.push(c);
        }
    }
    out
}

/// A failed request, said in words the user can act on.
#[component]
pub fn ErrorNotice(error: AppError) -> impl IntoView {
    let text = readable(&error.to_string());
    match error {
        AppError::Unauthorized => view! {
            <div class="notice notice-error" role="alert">
                {text} " " <a href="/login">"Sign in"</a>
            </div>
        }
        .into_any(),
        AppError::Forbidden => view! {
            <div class="notice notice-error" role="alert">
                <strong>"Access denied. "</strong>
                "Your role does not allow this page. Ask an administrator if you need it."
            </div>
        }
        .into_any(),
        _ => view! { <div class="notice notice-error" role="alert">{text}</div> }.into_any(),
    }
}

/// A page that could not be shown: why, under a title that says so (the page's own title
/// would name something that is not there).
#[component]
pub fn PageError(error: AppError) -> impl IntoView {
    // Rendered on the server, the page answers with the error's status (also when the
    // error was found here, as an address that names no record).
    #[cfg(feature = "ssr")]
    if let Some(options) = use_context::<leptos_axum::ResponseOptions>()
        && let Ok(status) = http::StatusCode::from_u16(error.status())
    {
        options.set_status(status);
    }
    let title = match &error {
        AppError::NotFound(_) => "Not found",
        AppError::Forbidden => "Access denied",
        AppError::Unauthorized => "Sign in",
        _ => "Not available",
    };
    view! {
        <leptos_meta::Title text=title/>
        <ErrorNotice error/>
    }
}

/// An action's failure under its form, if the last submission failed.
pub fn action_error<T>(
    value: impl Fn() -> Option<Result<T, AppError>> + Send + Sync + 'static,
) -> impl IntoView {
    move || match value() {
        Some(Err(error)) => Some(view! { <ErrorNotice error/> }),
        _ => None,
    }
}

/// What an action says on the page it reloads: its outcome, or a secret shown once.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub enum Flash {
    Done(String),
    Password(crate::model::NewUserPassword),
    Token(crate::model::IssuedTokenView),
}

/// The message an action left for this page, shown once (after the reload that follows
/// the action). It is kept in the tab's `sessionStorage` for the length of the reload and
/// removed as soon as it is read.
#[island]
pub fn FlashNotice() -> impl IntoView {
    let shown = RwSignal::new(None::<Flash>);
    Effect::new(move || shown.set(flash::take()));
    move || {
        shown.get().map(|flash| match flash {
            Flash::Done(text) => view! {
                <div class="notice notice-success" role="status" data-testid="flash">{text}</div>
            }
            .into_any(),
            Flash::Password(shown) => view! {
                <div class="notice notice-success" role="status" data-testid="one-time-password">
                    "Password for " <strong>{shown.email}</strong> ": "
                    <code class="secret">{shown.password}</code>
                    <span class="muted">" It is shown only once: hand it over now."</span>
                </div>
            }
            .into_any(),
            Flash::Token(t) => view! {
                <div class="notice notice-success" role="status" data-testid="new-token">
                    "Token " <strong>{t.name}</strong> " for " {t.owner_email} ": "
                    <code class="secret">{t.secret}</code>
                    <span class="muted">" It is shown only once: copy it now."</span>
                </div>
            }
            .into_any(),
        })
    }
}

#[cfg(feature = "hydrate")]
mod flash {
    use super::Flash;

    const KEY: &str = "crm.flash";

    fn storage() -> Option<web_sys::Storage> {
        leptos::prelude::window().session_storage().ok().flatten()
    }

    pub fn keep(flash: &Flash) {
        if let (Some(storage), Ok(text)) = (storage(), serde_json::to_string(flash)) {
            let _ = storage.set_item(KEY, &text);
        }
    }

    pub fn take() -> Option<Flash> {
        let storage = storage()?;
        let text = storage.get_item(KEY).ok().flatten()?;
        let _ = storage.remove_item(KEY);
        serde_json::from_str(&text).ok()
    }
}

#[cfg(not(feature = "hydrate"))]
mod flash {
    use super::Flash;
    pub fn keep(_: &Flash) {}
    pub fn take() -> Option<Flash> {
        None
    }
}

/// Loads the page again once `action` has succeeded (the page is rendered on the server and
/// shows what the action changed only when it is asked for again), with what `said` makes
/// of the answer shown on it once.
pub fn reload_after<S, T>(action: ServerAction<S>, said: fn(&T) -> Option<Flash>)
where
    S: server_fn::ServerFn<Output = T, Error = AppError> + Clone + Send + Sync + 'static,
    T: Send + Sync + 'static,
{
    Effect::new(move || {
        action.value().with(|v| {
            if let Some(Ok(answer)) = v {
                if let Some(message) = said(answer) {
                    flash::keep(&message);
                }
                let _ = window().location().reload();
            }
        });
    });
}

/// [`reload_after`] for an action whose answer says nothing.
pub fn reload_when_done<S, T>(action: ServerAction<S>)
where
    S: server_fn::ServerFn<Output = T, Error = AppError> + Clone + Send + Sync + 'static,
    T: Send + Sync + 'static,
{
    reload_after(action, |_| None);
}

#[cfg(test)]
mod tests {
    #[test]
    fn quoted_values_read_between_quotation_marks() {
        assert_eq!(
            super::readable("Line 3, Country: `Atlantis` is not a country"),
            "Line 3, Country: “Atlantis” is not a country"
        );
        assert_eq!(super::readable("`A` → `B`"), "“A” → “B”");
        assert_eq!(super::readable("no quotes"), "no quotes");
    }
}
