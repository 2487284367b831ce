//! One file over as many connections as make it faster, and no more.
//!
//! A transfer starts as one stream (see `stream.rs`). The part still to fetch is a list of
//! **segments**, each owned by one connection; at first one segment runs to the end of the file.
//! A new connection **steals** half of the largest remaining segment (its owner stops where the
//! thief starts, dropping the rest of its answer), asks `Range: bytes=A-B` for it, and when done
//! steals again, so every connection keeps busy until the end. Bytes go to the [`Sink`](super::sink::Sink) at their
//! offset; a segment's bytes are claimed under one lock before they are sent, so no byte is
//! written twice and none is skipped.
//!
//! **How many connections.** With `WHARF_CONNECTIONS=N` (an override), N from the start. Without
//! it, the aggregate rate decides, on any host: after a warm-up one probe connection is
//! added with a small share ([`PROBE`]); when the rate grew by at least [`PROBE_GAIN`] over the
//! next window the connections double (quadruple when the rate nearly doubled: each connection is
//! capped), and again while each step gains [`GAIN`], up to
//! [`MAX_CONNECTIONS`]. Connections added by a step take no more work than their first share until
//! the step is judged; the first step that does not pay stops the growth, and its connections
//! retire after their share. While the first stream alone keeps getting faster (a server's or
//! TCP's slow start: SeaweedFS sends one stream at a third of its rate for its first second), the
//! probe is not judged yet: the aggregate's growth would be the warm-up's, not the probe's. On loopback, where one
//! stream is not held back, that costs one probe; behind a per-connection cap (a CDN serving each
//! connection ~40 MB/s) it grows to the number the link carries.
//!
//! **Ranges.** Helpers start only when the first answer says the server does ranges (`206`, or
//! `Accept-Ranges: bytes`); the first helper's answer confirms it before more start. A helper
//! answered with a `200` gives its segment back to the stream it came from (that stream's answer
//! still covers it) and no more helpers start; so does one the server refuses (an error status,
//! its retries spent) before it got a byte. A `206` must be exactly the range asked, of a file
//! of the announced size (else the bytes would land at the wrong offset: final).
//!
//! **Holes.** Once a second connection writes, the temp file has holes: it is renamed to
//! `<name>.incomplete.ranged` first, so that a file with holes is never taken for a resumable
//! prefix; a killed transfer leaves it for `prune --models`/`gc` and starts over. When every byte is
//! in, it is renamed back.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use reqwest::header::{ACCEPT_ENCODING, ACCEPT_RANGES, RANGE};
use reqwest::StatusCode;

use super::http::{protocol, status_failure, ContentRange, Http, Pace};
use super::progress::{Event, Progress};
use super::request::Download;
use super::retry::Failure;
use super::sink::Chunk;

/// The most connections one file uses.
pub const MAX_CONNECTIONS: usize = 16;

/// A segment is split only when at least twice this much of it is left.
pub const MIN_SPLIT: u64 = 4 << 20;

/// The probe connection's share: what it costs where more connections do not help.
pub const PROBE: u64 = 32 << 20;

/// How much the aggregate rate must grow for a doubling to count as paying.
pub const GAIN: f64 = 1.25;

/// How much it must grow when the probe joins the first stream (two connections where one was:
/// a link that caps each connection nearly doubles; a link that one stream fills does not).
pub const PROBE_GAIN: f64 = 1.5;

/// One measuring window of the controller.
const WINDOW: Duration = Duration::from_millis(120);

/// `<temp>.ranged`: the name of a temp file with holes.
pub fn ranged_temp(temp: &Path) -> PathBuf {
    let mut name = temp.file_name().unwrap_or_default().to_os_string();
    name.push(".ranged");
    temp.with_file_name(name)
}

/// One connection's part of the file: bytes `claimed..end` are still to come.
#[derive(Debug, Clone, Copy)]
struct Seg {
    claimed: u64,
    end: u64,
    /// The segment this one was stolen from (to give it back to, see the module doc).
    from: Option<usize>,
    done: bool,
}

const RANGES_UNKNOWN: u8 = 0;
const RANGES_YES: u8 = 1;
const RANGES_NO: u8 = 2;

/// The shared state of one transfer's connections.
pub struct Plan {
    segs: Mutex<Vec<Seg>>,
    /// The file's size (`u64::MAX` when unknown: then there is one connection).
    pub total: u64,
    /// Bytes claimed so far, for the rate.
    pub claimed: AtomicU64,
    /// Whether the server does ranges.
    ranges: AtomicU8,
    /// Set when a connection failed finally: the others stop at their next chunk.
    pub failed: AtomicBool,
    /// Connections numbered from this one on do not steal (they retire after their share).
    keep: AtomicUsize,
    /// Set once a second connection was started (the temp file then has holes).
    split: AtomicBool,
}

/// What claiming room for a chunk gave.
pub struct Claim {
    /// Where the chunk goes.
    pub at: u64,
    /// How many of its bytes belong to the segment.
    pub take: u64,
    /// The segment is complete with them.
    pub last: bool,
}

impl Plan {
    /// One segment from `start` to `total` (unknown: to the end of the body).
    pub fn new(start: u64, total: Option<u64>, ranges: bool) -> Plan {
        let total = total.unwrap_or(u64::MAX);
        Plan {
            segs: Mutex::new(vec![Seg { claimed: start, end: total, from: None, done: start >= total }]),
            total,
            claimed: AtomicU64::new(0),
            ranges: AtomicU8::new(if ranges && total != u64::MAX { RANGES_UNKNOWN } else { RANGES_NO }),
            failed: AtomicBool::new(false),
            keep: AtomicUsize::new(usize::MAX),
            split: AtomicBool::new(false),
        }
    }

    fn segs(&self) -> std::sync::MutexGuard<'_, Vec<Seg>> {
        // A poisoned lock means a connection panicked; its segment state is still consistent
        // (every update is one assignment), and the digest check guards the result anyway.
        self.segs.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Room for `n` more bytes of segment `i`, at its claimed offset.
    pub fn claim(&self, i: usize, n: u64) -> Claim {
        let mut segs = self.segs();
        let s = &mut segs[i];
        let take = n.min(s.end - s.claimed);
        let at = s.claimed;
        s.claimed += take;
        let last = s.claimed == s.end;
        s.done |= last;
        drop(segs);
        self.claimed.fetch_add(take, Ordering::Relaxed);
        Claim { at, take, last }
    }

    /// Segment `i` from where it is claimed to its end (exclusive).
    pub fn left(&self, i: usize) -> (u64, u64) {
        let s = self.segs()[i];
        (s.claimed, s.end)
    }

    /// The body of segment `i` ended (no total was known): the file ends here.
    pub fn ended(&self, i: usize) {
        let mut segs = self.segs();
        segs[i].end = segs[i].claimed;
        segs[i].done = true;
    }

    /// Whether more connections may start.
    fn may_split(&self) -> bool {
        self.ranges.load(Ordering::SeqCst) != RANGES_NO && !self.failed.load(Ordering::SeqCst)
    }

    /// Whether a second connection was started (the temp file may have holes).
    pub fn has_split(&self) -> bool {
        self.split.load(Ordering::SeqCst)
    }

    /// Whether the first helper confirmed that the server does ranges.
    pub fn confirmed(&self) -> bool {
        self.ranges.load(Ordering::SeqCst) == RANGES_YES
    }

    /// Take the second half of the largest segment left (at most `cap` bytes of its end) as a new
    /// segment; `None` when none is large enough or splitting stopped.
    pub fn steal(&self, cap: Option<u64>) -> Option<usize> {
        if !self.may_split() {
            return None;
        }
        let mut segs = self.segs();
        let (victim, left) = segs
            .iter()
            .enumerate()
            .filter(|(_, s)| !s.done)
            .map(|(i, s)| (i, s.end - s.claimed))
            .max_by_key(|&(_, left)| left)?;
        if left < 2 * MIN_SPLIT {
            return None;
        }
        let end = segs[victim].end;
        let mut mid = segs[victim].claimed + left / 2;
        if let Some(cap) = cap {
            mid = mid.max(end.saturating_sub(cap));
        }
        mid &= !0xffff; // whole 64 KiB blocks
        if mid <= segs[victim].claimed {
            return None;
        }
        segs[victim].end = mid;
        segs.push(Seg { claimed: mid, end, from: Some(victim), done: false });
        self.split.store(true, Ordering::SeqCst);
        Some(segs.len() - 1)
    }

    /// The server answered a range with the whole file, or would not serve it: give segment `i`
    /// back to the one it came from if that is still streaming an answer that covers it (and `i`
    /// got no byte yet), and start no more connections. `false`: it cannot be given back.
    pub fn give_back(&self, i: usize) -> bool {
        self.ranges.store(RANGES_NO, Ordering::SeqCst);
        let mut segs = self.segs();
        let s = segs[i];
        match s.from {
            Some(v) if !segs[v].done && segs[v].end == s.claimed => {
                segs[v].end = s.end;
                segs[i].done = true;
                segs[i].end = segs[i].claimed;
                true
            }
            _ => false,
        }
    }

    /// Every segment is complete.
    pub fn complete(&self) -> bool {
        self.segs().iter().all(|s| s.done && s.claimed == s.end)
    }
}

/// How many connections to run.
#[derive(Debug, Clone, Copy)]
pub enum Mode {
    /// Exactly this many (`WHARF_CONNECTIONS`).
    Fixed(usize),
    /// As many as make it faster (see the module doc).
    Adaptive,
}

/// The controller of [`Mode::Adaptive`]: called every window (120 ms), it says how many connections to
/// add. Rates are measured over two windows after one window of ramp-up (a capped server sends in
/// bursts; one short window may read half again its real rate).
pub struct Control {
    mode: Mode,
    /// Where the measurement under way started: when, the bytes claimed then, and the first
    /// stream's own (its first segment's offset).
    mark: Mark,
    phase: Phase,
    /// The rate before the step being measured.
    base: Option<f64>,
    /// Connections added by the step being measured.
    added: usize,
    stopped: bool,
    /// The step being measured is the probe's (its judgement waits out the first stream's warm-up).
    probing: bool,
}

/// A point a rate is measured from.
#[derive(Debug, Clone, Copy)]
struct Mark {
    at: Instant,
    claimed: u64,
    first: u64,
}

impl Mark {
    fn at(plan: &Plan, at: Instant) -> Mark {
        Mark { at, claimed: plan.claimed.load(Ordering::Relaxed), first: plan.left(0).0 }
    }

    /// The aggregate rate and the first stream's own since `self`, in bytes per second.
    fn rates(&self, now: &Mark) -> (f64, f64) {
        let secs = now.at.duration_since(self.at).as_secs_f64().max(1e-3);
        ((now.claimed - self.claimed) as f64 / secs, now.first.saturating_sub(self.first) as f64 / secs)
    }
}

/// Where the controller is between two decisions.
#[derive(Debug, Clone, Copy)]
enum Phase {
    /// New connections open; windows left before measuring.
    Ramp(u32),
    /// Measuring; windows left before deciding.
    Measure(u32),
}

/// A step whose rate grew this much scaled with its connections: the next step quadruples.
const LINEAR: f64 = 1.8;

/// Windows one measurement takes.
const MEASURE: u32 = 2;

impl Control {
    /// A controller for `mode`, started now.
    pub fn new(mode: Mode, plan: &Plan, now: Instant) -> Control {
        Control {
            mode,
            mark: Mark::at(plan, now),
            phase: Phase::Ramp(1),
            base: None,
            added: 0,
            stopped: false,
            probing: false,
        }
    }

    /// How often [`Control::tick`] wants to be called.
    pub fn window(&self) -> Duration {
        match self.mode {
            Mode::Fixed(_) => WINDOW / 6,
            Mode::Adaptive => WINDOW,
        }
    }

    /// Whether it may still add connections.
    pub fn live(&self) -> bool {
        !self.stopped
    }

    /// A window ended `now` with `running` connections; the next one gets the id `next_id`: how
    /// many to add, and the share cap of each new one.
    pub fn tick(&mut self, plan: &Plan, running: usize, next_id: usize, now: Instant) -> (usize, Option<u64>) {
        if !plan.may_split() {
            self.stopped = true;
            return (0, None);
        }
        let n = match self.mode {
            Mode::Fixed(n) => n,
            Mode::Adaptive => return self.adapt(plan, running, next_id, now),
        };
        // One helper first; the rest once it confirmed that ranges work.
        if next_id == 1 {
            return (1, None);
        }
        if plan.confirmed() {
            self.stopped = true;
            return (n.saturating_sub(running), None);
        }
        (0, None)
    }

    fn adapt(&mut self, plan: &Plan, running: usize, next_id: usize, now: Instant) -> (usize, Option<u64>) {
        let now = Mark::at(plan, now);
        match self.phase {
            Phase::Ramp(n) if n > 1 => self.phase = Phase::Ramp(n - 1),
            Phase::Ramp(_) => {
                self.mark = now;
                self.phase = Phase::Measure(MEASURE);
            }
            Phase::Measure(n) if n > 1 => self.phase = Phase::Measure(n - 1),
            Phase::Measure(_) => {
                let (rate, first) = self.mark.rates(&now);
                if let Some(base) = self.base.filter(|_| self.probing) {
                    // The first stream alone got faster while the probe ran: its rate was still
                    // warming up (a server's or TCP's slow start), so the aggregate's growth says
                    // nothing about the probe yet. Measure again, against the first stream's new
                    // rate; the probe keeps to its share meanwhile.
                    if first >= base * GAIN {
                        self.base = Some(first);
                        self.mark = now;
                        self.phase = Phase::Measure(MEASURE);
                        return (0, None);
                    }
                }
                self.probing = false;
                self.phase = Phase::Ramp(1);
                let (add, cap) = match self.base {
                    // The first stream's rate: probe with one more, which takes no more work
                    // than its share until the step is judged.
                    None => {
                        self.probing = true;
                        (1, Some(PROBE))
                    }
                    // The step paid: keep its connections and double; the new ones wait for
                    // their own step's judgement before taking more work.
                    Some(base)
                        if rate >= base * if self.added == 1 { PROBE_GAIN } else { GAIN } && plan.confirmed() =>
                    {
                        // Nearly twice the rate from one more connection each: each connection
                        // is capped, so quadruple.
                        let grow = if rate >= base * LINEAR { 3 } else { 1 };
                        ((running.max(1) * grow).min(MAX_CONNECTIONS.saturating_sub(running)), None)
                    }
                    // It did not: the connections it added retire after their share.
                    Some(_) => {
                        plan.keep.store(next_id - self.added, Ordering::SeqCst);
                        self.stopped = true;
                        return (0, None);
                    }
                };
                self.base = Some(rate);
                self.added = add;
                if add == 0 {
                    plan.keep.store(usize::MAX, Ordering::SeqCst);
                    self.stopped = true;
                } else {
                    plan.keep.store(next_id, Ordering::SeqCst);
                }
                return (add, cap);
            }
        }
        (0, None)
    }

    /// Whether connection `id` may steal more work once its share is done.
    pub fn may_continue(plan: &Plan, id: usize) -> bool {
        id < plan.keep.load(Ordering::SeqCst) && !plan.failed.load(Ordering::SeqCst)
    }
}

/// Whether the first answer allows more connections.
pub fn accepts_ranges(resp: &reqwest::Response) -> bool {
    resp.status() == StatusCode::PARTIAL_CONTENT
        || resp.headers().get(ACCEPT_RANGES).and_then(|v| v.to_str().ok()).is_some_and(|v| v.trim() == "bytes")
}

/// How a connection's answer ended.
pub enum Pumped {
    /// Its segment is complete.
    Done,
    /// The body ended first; the rest must be asked for again.
    Short,
}

impl Http {
    /// Read `resp`'s body into segment `i` (after discarding its first `skip` bytes), claiming
    /// room for each chunk and sending it to the sink. Stops at the segment's end (which a thief
    /// may move), when another connection failed, or at a failure of its own.
    pub async fn pump(
        &self,
        d: &Download<'_>,
        plan: &Plan,
        i: usize,
        (resp, mut skip): (reqwest::Response, u64),
        tx: &tokio::sync::mpsc::Sender<Chunk>,
        progress: &dyn Progress,
    ) -> Result<Pumped, Failure> {
        let mut stream = resp.bytes_stream();
        let mut pace = Pace::start();
        loop {
            if plan.failed.load(Ordering::Relaxed) {
                return Err(Failure::transient("another connection failed"));
            }
            let Some(mut chunk) = self.next_chunk(&mut stream, &mut pace).await.map_err(Failure::transient)? else {
                if plan.total == u64::MAX {
                    plan.ended(i);
                    return Ok(Pumped::Done);
                }
                return Ok(if plan.left(i).0 >= plan.left(i).1 { Pumped::Done } else { Pumped::Short });
            };
            if skip > 0 {
                let n = skip.min(chunk.len() as u64);
                skip -= n;
                chunk = chunk.slice(n as usize..);
                if chunk.is_empty() {
                    continue;
                }
            }
            let n = chunk.len() as u64;
            let c = plan.claim(i, n);
            if c.take < n && c.at + c.take == plan.total {
                return Err(Failure::Final(protocol(
                    &d.url,
                    &format!("sent more than the {} bytes announced; stopped reading", plan.total),
                )));
            }
            if c.take > 0 {
                if tx.send((c.at, chunk.slice(..c.take as usize))).await.is_err() {
                    return Err(Failure::transient("the writer stopped"));
                }
                progress.event(Event::Bytes { id: d.id.to_string(), n: c.take });
            }
            if c.last || c.take < n {
                return Ok(Pumped::Done);
            }
        }
    }

    /// Ask for the rest of segment `i` (`Range`) and pump it; the attempt of a retry loop.
    pub async fn fetch_rest(
        &self,
        d: &Download<'_>,
        plan: &Plan,
        i: usize,
        tx: &tokio::sync::mpsc::Sender<Chunk>,
        progress: &dyn Progress,
    ) -> Result<(), Failure> {
        let (from, end) = plan.left(i);
        if from >= end {
            return Ok(());
        }
        // Open-ended to the file's end (as a resume asks), else exactly the segment.
        let range = if end == plan.total { format!("bytes={from}-") } else { format!("bytes={from}-{}", end - 1) };
        let resp = self
            .get_following(&d.url, d.credential, |u| {
                self.client.get(u.clone()).header(ACCEPT_ENCODING, "identity").header(RANGE, range.clone())
            })
            .await?;
        let skip = match resp.status() {
            StatusCode::PARTIAL_CONTENT => {
                let want = ContentRange { start: from, end: end.min(plan.total) - 1, total: Some(plan.total) };
                if ContentRange::of(&resp) != Some(want) || resp.content_length().is_some_and(|n| n != want.bytes()) {
                    let got = resp
                        .headers()
                        .get(reqwest::header::CONTENT_RANGE)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("none");
                    let why = format!(
                        "asked for bytes {from}-{}/{}, the answer's Content-Range is `{got}`",
                        want.end, plan.total
                    );
                    return Err(Failure::Final(protocol(&d.url, &why)));
                }
                plan.ranges.compare_exchange(RANGES_UNKNOWN, RANGES_YES, Ordering::SeqCst, Ordering::SeqCst).ok();
                0
            }
            StatusCode::OK if resp.content_length().is_none_or(|n| n == plan.total) => {
                if plan.give_back(i) {
                    return Ok(());
                }
                from // no one else covers it: read the whole answer up to it
            }
            StatusCode::OK => {
                return Err(Failure::Final(protocol(&d.url, "the size of the answer changed between requests")))
            }
            _ => return Err(status_failure(&d.url, &resp, d.asked)),
        };
        match self.pump(d, plan, i, (resp, skip), tx, progress).await? {
            Pumped::Done => Ok(()),
            Pumped::Short => {
                let (at, end) = plan.left(i);
                Err(Failure::transient(format!("range closed at byte {at} of {end}")))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        // Whatever order connections claim and steal in, every byte of the file is claimed exactly
        // once: the claims tile the file.
        #[test]
        fn claims_and_steals_tile_the_file(
            total in (2 * MIN_SPLIT)..(64 * MIN_SPLIT),
            start in 0u64..MIN_SPLIT,
            ops in proptest::collection::vec((0usize..8, 1u64..(3 * MIN_SPLIT), any::<bool>()), 1..200),
        ) {
            let plan = Plan::new(start, Some(total), true);
            let mut claimed: Vec<(u64, u64)> = Vec::new();
            let mut live = vec![0usize];
            for (who, n, steal) in ops {
                if steal {
                    if let Some(s) = plan.steal(if who % 2 == 0 { Some(PROBE) } else { None }) {
                        live.push(s);
                    }
                    continue;
                }
                let i = live[who % live.len()];
                let c = plan.claim(i, n);
                if c.take > 0 {
                    claimed.push((c.at, c.at + c.take));
                }
            }
            // Finish every segment.
            let n = plan.segs().len();
            for i in 0..n {
                loop {
                    let c = plan.claim(i, MIN_SPLIT);
                    if c.take > 0 {
                        claimed.push((c.at, c.at + c.take));
                    }
                    if c.take == 0 || c.last {
                        break;
                    }
                }
            }
            prop_assert!(plan.complete());
            claimed.sort();
            let mut at = start;
            for (a, b) in claimed {
                prop_assert_eq!(a, at, "a gap or an overlap");
                at = b;
            }
            prop_assert_eq!(at, total);
            prop_assert_eq!(plan.claimed.load(Ordering::Relaxed), total - start);
        }
    }

    /// Drive an adaptive controller through windows in which connection `k` receives
    /// `rates(window)[k]` MB/s (connections beyond the list receive nothing); new connections steal
    /// as the transfer does and confirm ranges. Returns the connections started, window by window.
    fn simulate(windows: usize, rates: impl Fn(usize) -> Vec<f64>) -> Vec<usize> {
        let plan = Plan::new(0, Some(16 << 30), true);
        let t0 = Instant::now();
        let mut ctl = Control::new(Mode::Adaptive, &plan, t0);
        let mut segs = vec![0usize];
        let mut started = Vec::new();
        for w in 0..windows {
            for (k, r) in rates(w).into_iter().enumerate() {
                if let Some(&i) = segs.get(k) {
                    plan.claim(i, (r * 1e6 * WINDOW.as_secs_f64()) as u64);
                }
            }
            if !ctl.live() {
                break;
            }
            let (add, cap) = ctl.tick(&plan, segs.len(), segs.len(), t0 + WINDOW * (w as u32 + 1));
            for _ in 0..add {
                segs.push(plan.steal(cap).expect("room to steal"));
                plan.ranges.store(RANGES_YES, Ordering::SeqCst);
            }
            started.push(segs.len());
        }
        started
    }

    #[test]
    fn a_link_that_caps_each_connection_gets_more_connections() {
        // 40 MB/s per connection, from the start.
        let started = simulate(40, |w| vec![40.0; 1 + w]);
        assert!(*started.last().unwrap() >= 8, "{started:?}");
    }

    #[test]
    fn a_link_one_stream_fills_stays_at_one_after_the_probe() {
        // 1000 MB/s shared by whoever is connected.
        let started = simulate(40, |w| {
            let n = 1 + w.min(1);
            vec![1000.0 / n as f64; n]
        });
        assert_eq!(*started.last().unwrap(), 2, "the probe and no more: {started:?}");
    }

    #[test]
    fn a_first_stream_still_warming_up_is_not_taken_for_a_probe_that_pays() {
        // SeaweedFS: one stream at a quarter of its rate for ~1 s (windows 0–7), then the whole
        // link; a second connection only takes a share of it. The aggregate nearly quadruples
        // while the probe runs, but the first stream alone did that.
        let started = simulate(40, |w| {
            let first = if w < 4 {
                250.0
            } else if w < 8 {
                250.0 + 150.0 * (w - 3) as f64
            } else {
                1000.0
            };
            vec![first * 0.8, first * 0.2]
        });
        assert_eq!(*started.last().unwrap(), 2, "the probe and no more: {started:?}");
    }

    #[test]
    fn a_segment_given_back_goes_to_the_stream_it_came_from() {
        let plan = Plan::new(0, Some(64 * MIN_SPLIT), true);
        let s = plan.steal(None).unwrap();
        assert_eq!(plan.left(0), (0, 32 * MIN_SPLIT));
        assert!(plan.give_back(s));
        assert_eq!(plan.left(0), (0, 64 * MIN_SPLIT));
        assert!(plan.steal(None).is_none(), "no more helpers once a range was answered whole");
    }
}
