use crate::api::overview::count_records;
use crate::components::notice::ErrorNotice;
use crate::model::SectionCounts;
use leptos::prelude::*;
use leptos_meta::Title;

/// A section's heading and how many records it holds, with an empty state that says
/// how records get there.
#[component]
pub fn SectionPage(
    title: &'static str,
    intro: &'static str,
    count: fn(&SectionCounts) -> u64,
    noun: &'static str,
    empty: &'static str,
) -> impl IntoView {
    let counts = Resource::new(|| (), |_| count_records());
    view! {
        <Title text=title/>
        <div class="page-head">
            <h1>{title}</h1>
            <p class="muted">{intro}</p>
        </div>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match counts.await {
                    Ok(c) => {
                        let n = count(&c);
                        if n == 0 {
                            view! { <div class="empty-state"><p>{empty}</p></div> }.into_any()
                        } else {
                            view! { <p class="summary" data-testid="section-count">{format!("{n} {noun}")}</p> }.into_any()
                        }
                    }
                    Err(error) => view! { <ErrorNotice error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}
