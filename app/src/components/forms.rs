//! Forms as islands. A page is rendered on the server, its forms included; each form is an
//! island that sends itself to its server function, says why it was refused under it, and
//! loads the page again once the server has taken it, so that the page shows what changed.
//! Without JavaScript the same form is a plain post that the server answers with a redirect
//! back to the page.

/// Declares an island `$name` that wraps its children (the form's fields, rendered on the
/// server) in a form sent to the server function `$action`. `$said`, if given, makes of the
/// answer what the reloaded page says once (a [`Flash`](super::notice::Flash)).
macro_rules! form_island {
    ($(#[$doc:meta])* $name:ident, $action:ty, $class:literal $(, $said:expr)?) => {
        $(#[$doc])*
        #[::leptos::prelude::island]
        fn $name(children: ::leptos::prelude::Children) -> impl ::leptos::prelude::IntoView {
            use ::leptos::prelude::*;
            let action = ServerAction::<$action>::new();
            $crate::components::notice::reload_after(action, form_island!(@said $($said)?));
            view! {
                <ActionForm action attr:class=$class>{children()}</ActionForm>
                {$crate::components::notice::action_error(move || action.value().get())}
            }
        }
    };
    (@said) => { |_| None };
    (@said $said:expr) => { $said };
}

pub(crate) use form_island;
