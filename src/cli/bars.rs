//! Progress bars: the library emits [`Event`]s, this draws them (indicatif) on a terminal.

use std::collections::HashMap;
use std::sync::Mutex;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use wharf::transfer::progress::{Event, Progress};

/// One bar per file on a terminal, and a total bar once a second file starts; notes about
/// retries and waits in any case.
pub struct Bars {
    draw: bool,
    multi: MultiProgress,
    bars: Mutex<HashMap<String, ProgressBar>>,
    total: Mutex<Total>,
}

#[derive(Default)]
struct Total {
    files: usize,
    length: u64,
    done: u64,
    bar: Option<ProgressBar>,
}

const BAR: &str = "{msg:40!} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}";

fn bar_style() -> ProgressStyle {
    ProgressStyle::with_template(BAR).unwrap_or_else(|_| ProgressStyle::default_bar()).progress_chars("=> ")
}

impl Bars {
    pub fn new(draw: bool) -> Bars {
        Bars {
            draw,
            multi: MultiProgress::new(),
            bars: Mutex::new(HashMap::new()),
            total: Mutex::new(Total::default()),
        }
    }

    pub fn finish(&self) {
        for b in self.bars.lock().map(|m| m.values().cloned().collect::<Vec<_>>()).unwrap_or_default() {
            b.finish_and_clear();
        }
        if let Some(b) = self.total.lock().ok().and_then(|t| t.bar.clone()) {
            b.finish_and_clear();
        }
    }

    fn count(&self, length: u64, bytes: u64) {
        let Ok(mut t) = self.total.lock() else { return };
        t.length += length;
        t.done += bytes;
        if t.files >= 2 && t.bar.is_none() {
            let bar = self.multi.add(ProgressBar::new(t.length));
            bar.set_style(bar_style());
            bar.set_message(format!("total ({} files)", t.files));
            bar.set_position(t.done);
            t.bar = Some(bar);
        } else if let Some(b) = &t.bar {
            b.set_length(t.length);
            b.set_position(t.done);
        }
    }
}

impl Progress for Bars {
    fn event(&self, e: Event) {
        match e {
            Event::Retry { id, attempt, wait_ms, reason } => {
                self.multi.suspend(|| {
                    eprintln!("retrying {id} in {:.1}s (attempt {attempt} failed: {reason})", wait_ms as f64 / 1000.0)
                });
            }
            Event::Warning { message } => self.multi.suspend(|| eprintln!("warning: {message}")),
            Event::Waiting { id, lock } => {
                self.multi
                    .suspend(|| eprintln!("waiting for another process downloading {id} (lock `{}`)", lock.display()));
            }
            Event::Start { id, total, resumed_from } if self.draw => {
                if let Ok(mut t) = self.total.lock() {
                    t.files += 1;
                    if let Some(b) = &t.bar {
                        b.set_message(format!("total ({} files)", t.files));
                    }
                }
                self.count(total.unwrap_or(0), resumed_from);
                // File bars go above the total bar, which stays last.
                let has_total = self.total.lock().is_ok_and(|t| t.bar.is_some());
                let fresh = ProgressBar::new(total.unwrap_or(0));
                let bar = if has_total { self.multi.insert_from_back(1, fresh) } else { self.multi.add(fresh) };
                bar.set_style(bar_style());
                bar.set_message(id.rsplit('/').next().unwrap_or(&id).to_string());
                bar.set_position(resumed_from);
                if let Ok(mut m) = self.bars.lock() {
                    m.insert(id, bar);
                }
            }
            Event::Bytes { id, n } if self.draw => {
                if let Some(b) = self.bars.lock().ok().and_then(|m| m.get(&id).cloned()) {
                    b.inc(n);
                }
                self.count(0, n);
            }
            Event::Done { id } if self.draw => {
                if let Some(b) = self.bars.lock().ok().and_then(|mut m| m.remove(&id)) {
                    b.finish_and_clear();
                }
            }
            _ => {}
        }
    }
}
