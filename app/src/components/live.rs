//! Live import status in the browser: one event stream per page, opened by the first
//! island that shows jobs. Without JavaScript nothing is opened and pages show the state
//! they were rendered with.

use crate::model::JobRecord;
use leptos::prelude::*;

/// The latest job change pushed by the server, and how many events have arrived (a page
/// that shows several jobs reloads its list when the count moves). `resyncs` moves when the
/// stream (re)connects: what changed while it was not connected is unknown, so pages reload.
#[derive(Clone, Copy)]
pub struct LiveJobs {
    pub last: ReadSignal<Option<JobRecord>>,
    pub count: ReadSignal<u64>,
    pub resyncs: ReadSignal<u64>,
}

impl LiveJobs {
    /// The page's live feed. In the browser it is one per page, shared by every island
    /// that shows jobs: the first island to ask opens the event stream. On the server
    /// (and without JavaScript) it never moves: pages show the state they were rendered
    /// with.
    pub fn get() -> LiveJobs {
        #[cfg(feature = "hydrate")]
        {
            PAGE_FEED.with(|feed| {
                let feed = feed.get_or_init(open);
                LiveJobs {
                    last: feed.last.read_only().into(),
                    count: feed.count.read_only().into(),
                    resyncs: feed.resyncs.read_only().into(),
                }
            })
        }
        #[cfg(not(feature = "hydrate"))]
        {
            let (last, _) = signal(None);
            let (count, _) = signal(0);
            let (resyncs, _) = signal(0);
            LiveJobs {
                last,
                count,
                resyncs,
            }
        }
    }

    /// The latest pushed state of job `id`, and the reconnections (read inside a memo, it
    /// changes when the server reports a change of that job or the stream reconnects).
    pub fn job(self, id: Option<i64>) -> (Option<JobRecord>, u64) {
        (
            self.last.get().filter(|j| Some(j.id) == id),
            self.resyncs.get(),
        )
    }
}

/// What an island was rendered with, asked for again by `fetch` each time `changes` moves
/// away from what it last said, starting from `unmoved` (what it says on a page that has
/// heard nothing yet). So the island asks when it starts only if something was heard before
/// it did: another island of the page (the bell, say) opened the stream, and its `resync`
/// (the server's "what you show may be old") came before this island started, which is
/// after what it shows was rendered. Only the answer to the latest question is kept; a
/// failed one leaves the last value and is returned as the error. An answer equal to what
/// is shown changes nothing: the island is not drawn again, so a value being typed into one
/// of its forms, or an action under way in it, stays.
pub fn refreshed<T, K, F, Fut>(
    initial: T,
    unmoved: K,
    changes: impl Fn() -> K + Send + Sync + 'static,
    fetch: F,
) -> (ReadSignal<T>, ReadSignal<Option<crate::model::AppError>>)
where
    T: PartialEq + Send + Sync + 'static,
    K: Clone + PartialEq + Send + Sync + 'static,
    F: Fn() -> Fut + Copy + 'static,
    Fut: std::future::Future<Output = Result<T, crate::model::AppError>> + 'static,
{
    let (value, set_value) = signal(initial);
    let (failed, set_failed) = signal(None);
    let changes = Memo::new(move |_| changes());
    let asked = StoredValue::new(0u64);
    Effect::new(move |seen: Option<()>| {
        // Read, not only tracked: a memo computes (and follows what it reads) when read.
        let moved = changes.with(|now| *now != unmoved);
        if seen.is_some() || moved {
            asked.update_value(|n| *n += 1);
            let mine = asked.get_value();
            leptos::task::spawn_local(async move {
                let answer = fetch().await;
                if asked.get_value() == mine {
                    match answer {
                        Ok(v) => {
                            set_failed.set(None);
                            if value.with_untracked(|shown| *shown != v) {
                                set_value.set(v);
                            }
                        }
                        Err(e) => set_failed.set(Some(e)),
                    }
                }
            });
        }
    });
    (value, failed)
}

/// The page's feed itself: reference-counted signals that belong to no island (each island
/// reads them through handles of its own).
#[cfg(feature = "hydrate")]
#[derive(Clone)]
struct Feed {
    last: ArcRwSignal<Option<JobRecord>>,
    count: ArcRwSignal<u64>,
    resyncs: ArcRwSignal<u64>,
}

#[cfg(feature = "hydrate")]
thread_local! {
    static PAGE_FEED: std::cell::OnceCell<Feed> = const { std::cell::OnceCell::new() };
}

/// Opens the page's event stream.
#[cfg(feature = "hydrate")]
fn open() -> Feed {
    let feed = Feed {
        last: ArcRwSignal::new(None),
        count: ArcRwSignal::new(0),
        resyncs: ArcRwSignal::new(0),
    };
    listen(feed.clone());
    feed
}

#[cfg(feature = "hydrate")]
fn listen(feed: Feed) {
    let feed_again = feed.clone();
    let Feed {
        last: set_last,
        count: set_count,
        resyncs: set_resyncs,
    } = feed;
    use wasm_bindgen::JsCast;
    use wasm_bindgen::closure::Closure;
    let Ok(source) = web_sys::EventSource::new("/api/v1/imports/events") else {
        return;
    };
    let count = set_count.clone();
    let on_job =
        Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |e: web_sys::MessageEvent| {
            if let Some(job) = e
                .data()
                .as_string()
                .and_then(|text| serde_json::from_str::<JobRecord>(&text).ok())
            {
                set_last.set(Some(job));
                count.update(|n| *n += 1);
            }
        });
    let on_resync =
        Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |_: web_sys::MessageEvent| {
            set_resyncs.update(|n| *n += 1);
            set_count.update(|n| *n += 1);
        });
    // The browser reconnects a stream the server ended, but not one the server refused
    // (too many of the user's pages still counted open, 429) or that failed for good: that
    // one is opened again a few seconds later, and says `resync` when it is.
    let again = feed_again;
    let closed = source.clone();
    let on_error = Closure::<dyn FnMut(web_sys::Event)>::new(move |_: web_sys::Event| {
        if closed.ready_state() == web_sys::EventSource::CLOSED {
            let again = again.clone();
            let reopen = Closure::once_into_js(move || listen(again));
            let _ = window().set_timeout_with_callback_and_timeout_and_arguments_0(
                reopen.unchecked_ref(),
                REOPEN_AFTER_MS,
            );
        }
    });
    let _ = source.add_event_listener_with_callback("job", on_job.as_ref().unchecked_ref());
    let _ = source.add_event_listener_with_callback("resync", on_resync.as_ref().unchecked_ref());
    let _ = source.add_event_listener_with_callback("error", on_error.as_ref().unchecked_ref());
    // The stream lives as long as the page: the browser reconnects it whenever the server
    // ends it, and the server says `resync` at the start of every connection.
    on_job.forget();
    on_resync.forget();
    on_error.forget();
}

/// How long a refused stream waits before it is opened again.
#[cfg(feature = "hydrate")]
const REOPEN_AFTER_MS: i32 = 3_000;
