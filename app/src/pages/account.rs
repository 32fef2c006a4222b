//! The signed-in user's own account: who they are, and a new password.

use crate::api::session::ChangePassword;
use crate::components::layout::UserResource;
use crate::components::notice::action_error;
use leptos::prelude::*;
use leptos_meta::Title;

/// My account: the signed-in user changes their own password.
#[component]
pub fn AccountPage() -> impl IntoView {
    let user = use_context::<UserResource>();
    view! {
        <Title text="My account"/>
        <div class="page-head">
            <h1>"My account"</h1>
            <Transition fallback=|| ()>
                {move || user.map(|u| Suspend::new(async move {
                    u.0.await.ok().flatten().map(|u| view! {
                        <p class="muted">{format!("Signed in as {} ({})", u.email, u.role.label())}</p>
                    })
                }))}
            </Transition>
        </div>
        <PasswordForm/>
    }
}

/// The new-password form; its fields empty once the password has changed (they held
/// secrets).
#[island]
fn PasswordForm() -> impl IntoView {
    let change = ServerAction::<ChangePassword>::new();
    let form = NodeRef::<leptos::html::Form>::new();
    Effect::new(move || {
        if matches!(change.value().get(), Some(Ok(_)))
            && let Some(form) = form.get()
        {
            form.reset();
        }
    });
    view! {
        <section class="panel">
            <h2>"Change your password"</h2>
            <p class="muted">
                "At least 10 characters, and not one of the most common passwords. Your other "
                "sessions end when it changes; this one stays signed in."
            </p>
            <ActionForm action=change node_ref=form attr:class="form-grid">
                <label for="current-password">"Current password"</label>
                <input id="current-password" type="password" name="current" required
                    autocomplete="current-password"/>
                <label for="new-password">"New password"</label>
                <input id="new-password" type="password" name="new" required minlength="10"
                    autocomplete="new-password"/>
                <label for="repeat-password">"New password again"</label>
                <input id="repeat-password" type="password" name="repeat" required minlength="10"
                    autocomplete="new-password"/>
                <div class="form-actions">
                    <button type="submit" class="btn btn-primary">"Change password"</button>
                </div>
            </ActionForm>
            {move || change.value().get().and_then(Result::ok).map(|done| view! {
                <div class="notice notice-success" role="status" data-testid="password-changed">{done}</div>
            })}
            {action_error(move || change.value().get())}
        </section>
    }
}
