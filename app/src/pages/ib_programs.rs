use super::section::SectionPage;
use leptos::prelude::*;

#[component]
pub fn IbProgramsPage() -> impl IntoView {
    view! {
        <SectionPage
            title="IB Programs"
            intro="Introducing-broker partner programs, their partners and referrals."
            count=|c| c.program_count
            noun="programs"
            empty="No IB programs yet."
        />
    }
}
