use super::section::SectionPage;
use leptos::prelude::*;

#[component]
pub fn AccountsPage() -> impl IntoView {
    view! {
        <SectionPage
            title="Accounts"
            intro="Trading accounts and the clients who own them."
            count=|c| c.account_count
            noun="accounts"
            empty="No trading accounts yet. Accounts arrive through an import of an account file."
        />
    }
}
