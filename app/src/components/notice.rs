use crate::model::AppError;
use leptos::prelude::*;

/// A failed request, said in words the user can act on.
#[component]
pub fn ErrorNotice(error: AppError) -> impl IntoView {
    let text = error.to_string();
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

/// An action's failure under its form, if the last submission failed.
pub fn action_error<T>(
    value: impl Fn() -> Option<Result<T, AppError>> + Send + Sync + 'static,
) -> impl IntoView {
    move || match value() {
        Some(Err(error)) => Some(view! { <ErrorNotice error/> }),
        _ => None,
    }
}
