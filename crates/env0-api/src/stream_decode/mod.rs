//! Decoding a JSON list while its body arrives, holding only the element being read.
//!
//! [`StreamList`] is fed the body chunk by chunk. It reads the list's structure (`[`, commas,
//! `]`) itself and lets serde_json decode each element from the bytes it holds; an element cut
//! by the end of a chunk is tried again, from its start, once the bytes held have doubled (the
//! next chunk, for an ordinary element; a logarithmic number of tries for a huge one). Decoded
//! elements go at once to a [`Collect`] (which converts and keeps them) and their bytes are
//! dropped, so memory holds the collected items and one partial element, never the body.
//!
//! It accepts and rejects exactly what decoding the whole body with serde_json does
//! (`parallel_decode::decode_list_on` on one thread), with the same
//! message at the same line and column: element errors are serde_json's own, moved from the
//! element to the body, and the few errors of the list's structure are named as serde_json names
//! them. A body that does not start with `[` (`null`, an object, anything else) is kept whole and
//! decoded by the serial decoder at its end. The tests hold the two decoders to the same answers
//! on random bodies cut at random places.
//!
//! Elements are decoded from `&str` where the bytes held are valid UTF-8 (serde_json then takes
//! every string inside as valid); an element reaching invalid UTF-8 is decoded from bytes, so the
//! error is serde_json's.

use serde::de::DeserializeOwned;

use crate::parallel_decode;
use crate::transport::{Decoded, PREALLOCATE_BYTES};

/// Why a streamed body did not decode, placed in the whole body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StreamError {
    /// The body ended inside its JSON (serde_json's end-of-input category): worth another try.
    pub(crate) eof: bool,
    /// serde_json's message, without its position.
    pub(crate) reason: String,
    /// 1-based line in the body.
    pub(crate) line: usize,
    /// Column in the body, as serde_json counts it.
    pub(crate) column: usize,
    /// Text around the position, from the bytes still held.
    pub(crate) snippet: String,
}

/// Where the reader is in the list's structure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before the first non-whitespace byte.
    Start,
    /// The body is no list: kept whole for the serial decoder.
    Whole,
    /// After `[`.
    First,
    /// At an element's first byte.
    Element,
    /// After an element.
    After,
    /// After a comma.
    Comma,
    /// After the closing `]`.
    Closed,
}

/// One element's decoding.
enum Element<E> {
    Done(E, usize),
    More,
    Failed(serde_json::Error),
}

/// Where a streamed list's elements go, one by one as they are decoded.
pub(crate) trait Collect<E> {
    /// What the whole list becomes.
    type Output;
    /// Room for a list whose JSON takes `bytes` bytes and whose first element took
    /// `first_element_bytes` (see `parallel_decode::room_for`).
    fn reserve(&mut self, bytes: usize, first_element_bytes: usize);
    /// The next element.
    fn push(&mut self, element: E);
    /// The list has ended.
    fn finish(self) -> Self::Output;
}

/// Each element converted by a function that may keep it or not and may note things (warnings,
/// say) beside it, into a `Vec` of what it kept and one of what it noted. A fresh one per body
/// read, so a body read twice notes nothing twice.
pub(crate) struct Noted<'c, F, T, W> {
    convert: &'c F,
    items: Vec<T>,
    notes: Vec<W>,
}

impl<'c, F, T, W> Noted<'c, F, T, W> {
    pub(crate) fn new(convert: &'c F) -> Self {
        Noted {
            convert,
            items: Vec::new(),
            notes: Vec::new(),
        }
    }
}

impl<E, T, W, F: Fn(E, &mut Vec<W>) -> Option<T>> Collect<E> for Noted<'_, F, T, W> {
    type Output = (Vec<T>, Vec<W>);

    /// Room is a guess from a length the server declared, at most [`PREALLOCATE_BYTES`] of
    /// items, as for a body read whole: past that, or when the system will not give it, the
    /// list grows as it is read instead.
    fn reserve(&mut self, bytes: usize, first_element_bytes: usize) {
        let most = usize::try_from(PREALLOCATE_BYTES).unwrap_or(usize::MAX) / size_of::<T>().max(1);
        let room = parallel_decode::room_for::<T>(bytes, first_element_bytes).min(most);
        if self.items.try_reserve(room).is_err() {
            tracing::debug!(
                bytes,
                room,
                "no room for the list its declared length promises; growing it as it is read"
            );
        }
    }

    fn push(&mut self, element: E) {
        if let Some(item) = (self.convert)(element, &mut self.notes) {
            self.items.push(item);
        }
    }

    fn finish(self) -> (Vec<T>, Vec<W>) {
        (self.items, self.notes)
    }
}

/// A JSON list decoded as its body arrives (see the module docs), each element handed to a
/// [`Collect`] as soon as it is read.
pub(crate) struct StreamList<E, C> {
    collect: C,
    /// The bytes received and not yet consumed.
    held: Vec<u8>,
    /// Offset in `held` of the first byte not consumed.
    at: usize,
    /// Where `held[0]` is in the body.
    origin: Origin,
    state: State,
    /// Elements read so far.
    count: usize,
    /// Length `held` must reach before the element cut short at `at` is tried again.
    retry_at: usize,
    /// Element decodes attempted, for the tests.
    #[cfg(test)]
    tries: usize,
    /// The body's declared length, to size the collection once the first element is read.
    expected: Option<usize>,
    element: std::marker::PhantomData<fn() -> E>,
}

fn is_whitespace(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r')
}

impl<E, C> StreamList<E, C>
where
    E: DeserializeOwned,
    C: Collect<E>,
{
    /// A decoder for one body into `collect`; `expected` is the body's declared length, if any.
    pub(crate) fn new(collect: C, expected: Option<usize>) -> Self {
        StreamList {
            collect,
            held: Vec::new(),
            at: 0,
            origin: Origin { line: 1, column: 0 },
            state: State::Start,
            count: 0,
            retry_at: 0,
            #[cfg(test)]
            tries: 0,
            expected,
            element: std::marker::PhantomData,
        }
    }

    /// Reads the next part of the body, decoding every element it completes.
    pub(crate) fn feed(&mut self, chunk: &[u8]) -> Result<(), StreamError> {
        if self.held.is_empty() {
            // Nothing held over: the chunk is read where it is, and only what is left of it kept.
            self.advance(chunk, false)?;
            let kept = if matches!(self.state, State::Start | State::Whole) {
                chunk
            } else {
                self.origin = self.origin.place(chunk, self.at);
                self.retry_at = self.retry_at.saturating_sub(self.at);
                let rest = chunk.get(self.at..).unwrap_or_default();
                self.at = 0;
                rest
            };
            self.held.extend_from_slice(kept);
            return Ok(());
        }
        self.held.extend_from_slice(chunk);
        let held = std::mem::take(&mut self.held);
        let advanced = self.advance(&held, false);
        self.held = held;
        advanced?;
        self.drop_consumed();
        Ok(())
    }

    /// The body has ended: the list, or why it is not one.
    pub(crate) fn finish(mut self) -> Result<Decoded<C::Output>, StreamError> {
        let held = std::mem::take(&mut self.held);
        if matches!(self.state, State::Start | State::Whole) {
            // Nothing was consumed: the serial decoder reads the whole body.
            let collect = &mut self.collect;
            parallel_decode::decode_serially(&held, &mut |element: E| collect.push(element))
                .map_err(|e| {
                    let at = offset_in(&held, e.line(), e.column());
                    error_from(&held, &e, (e.line(), e.column()), at)
                })?;
            return Ok(Decoded {
                value: self.collect.finish(),
                runs: 1,
            });
        }
        self.advance(&held, true)?;
        match self.state {
            State::Closed => Ok(Decoded {
                value: self.collect.finish(),
                runs: 1,
            }),
            State::First | State::After => {
                Err(self.structure(&held, "EOF while parsing a list", None))
            }
            _ => Err(self.structure(&held, "EOF while parsing a value", None)),
        }
    }

    /// Consumes what `held` allows. With `finished`, the body has ended: an element cut short
    /// is an error instead of a wait for more.
    fn advance(&mut self, held: &[u8], finished: bool) -> Result<(), StreamError> {
        if !finished && held.len() < self.retry_at {
            // An element cut short waits until the bytes held have doubled.
            return Ok(());
        }
        // Checked as UTF-8 once per call: `text` covers `held[base..]` up to its first byte
        // that is not (yet) valid.
        let base = self.at;
        let rest = held.get(base..).unwrap_or_default();
        let (text, invalid) = match std::str::from_utf8(rest) {
            Ok(text) => (text, None),
            Err(e) => (
                std::str::from_utf8(rest.get(..e.valid_up_to()).unwrap_or_default())
                    .unwrap_or_default(),
                Some(e.error_len().is_some()),
            ),
        };
        loop {
            if self.state != State::Element {
                while held.get(self.at).copied().is_some_and(is_whitespace) {
                    self.at += 1;
                }
            }
            let Some(&byte) = held.get(self.at) else {
                return Ok(());
            };
            match (self.state, byte) {
                (State::Whole, _) => return Ok(()),
                (State::Start, b'[') => {
                    self.at += 1;
                    self.state = State::First;
                }
                (State::Start, _) => {
                    self.state = State::Whole;
                    return Ok(());
                }
                (State::First | State::After, b']') => {
                    self.at += 1;
                    self.state = State::Closed;
                }
                (State::After, b',') => {
                    self.at += 1;
                    self.state = State::Comma;
                }
                (State::After, _) => {
                    return Err(self.structure(held, "expected `,` or `]`", Some(self.at)));
                }
                (State::Comma, b']') => {
                    return Err(self.structure(held, "trailing comma", Some(self.at)));
                }
                (State::First | State::Comma, _) => self.state = State::Element,
                (State::Closed, _) => {
                    return Err(self.structure(held, "trailing characters", Some(self.at)));
                }
                (State::Element, _) => {
                    let text = text.get(self.at - base..).unwrap_or_default();
                    let bytes = held.get(self.at..).unwrap_or_default();
                    #[cfg(test)]
                    {
                        self.tries += 1;
                    }
                    match element::<E>(text, bytes, invalid, finished) {
                        Element::Done(element, length) => {
                            if self.count == 0 {
                                self.reserve(length);
                            }
                            self.count += 1;
                            self.collect.push(element);
                            self.at += length;
                            self.state = State::After;
                        }
                        Element::More => {
                            // Tried again once twice as many of its bytes are held: an element
                            // longer than many chunks is decoded a logarithmic number of times,
                            // not once per chunk.
                            self.retry_at = self.at + 2 * (held.len() - self.at);
                            return Ok(());
                        }
                        Element::Failed(e) => {
                            let place = self.origin.relative(held, self.at, &e);
                            let at = self.at + offset_in(bytes, e.line(), e.column());
                            return Err(error_from(held, &e, place, at));
                        }
                    }
                }
            }
        }
    }

    /// Room for the list at the first element's size, when the body's length is known.
    fn reserve(&mut self, element_bytes: usize) {
        if let Some(expected) = self.expected {
            self.collect.reserve(expected, element_bytes);
        }
    }

    /// Drops the consumed bytes, keeping the position of the first one left.
    fn drop_consumed(&mut self) {
        if matches!(self.state, State::Start | State::Whole) || self.at == 0 {
            return;
        }
        self.origin = self.origin.place(&self.held, self.at);
        self.held.drain(..self.at);
        self.retry_at = self.retry_at.saturating_sub(self.at);
        self.at = 0;
    }

    /// An error of the list's structure, at the byte at `at` (serde_json's peek position), or at
    /// the end of the body.
    fn structure(&self, held: &[u8], reason: &str, at: Option<usize>) -> StreamError {
        let index = at.map_or(held.len(), |at| (at + 1).min(held.len()));
        let place = self.origin.place(held, index);
        StreamError {
            eof: at.is_none(),
            reason: reason.to_owned(),
            line: place.line,
            column: place.column,
            snippet: crate::transport::snippet_at(held, index.saturating_sub(1)),
        }
    }
}

/// Where the bytes held start in the body: a 1-based line, and the bytes between that line's
/// start and them.
#[derive(Debug, Clone, Copy)]
struct Origin {
    line: usize,
    column: usize,
}

impl Origin {
    /// serde_json's line and column for its reader standing at offset `index` of `held` (just
    /// after the byte in question).
    fn place(self, held: &[u8], index: usize) -> Origin {
        let before = held.get(..index).unwrap_or_default();
        match memchr::memrchr(b'\n', before) {
            Some(last) => Origin {
                line: self.line + memchr::memchr_iter(b'\n', before).count(),
                column: index - (last + 1),
            },
            None => Origin {
                line: self.line,
                column: self.column + index,
            },
        }
    }

    /// The body position of an error serde_json placed in an element starting at `start`.
    fn relative(self, held: &[u8], start: usize, e: &serde_json::Error) -> (usize, usize) {
        let origin = self.place(held, start);
        if e.line() <= 1 {
            (origin.line, origin.column + e.column())
        } else {
            (origin.line + e.line() - 1, e.column())
        }
    }
}

/// Decodes the element at the start of `bytes` (`text` is their valid UTF-8 prefix; `invalid`
/// says whether one follows it: `Some(true)` an invalid sequence, `Some(false)` one cut short).
fn element<E: DeserializeOwned>(
    text: &str,
    bytes: &[u8],
    invalid: Option<bool>,
    finished: bool,
) -> Element<E> {
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<E>();
    let outcome = stream.next();
    let end = stream.byte_offset();
    // serde_json reports some values cut by the end of their input as errors of another kind
    // (a number that ends right after its `-` is an "invalid number"): an error on the text's
    // last byte may be the text's end, not the element's.
    let cut_by_text = match &outcome {
        None => true,
        Some(Err(e)) => e.is_eof() || at_end(text.as_bytes(), e),
        Some(Ok(_)) => false,
    };
    if cut_by_text && text.len() < bytes.len() {
        // The element reaches bytes that are not (yet) valid UTF-8.
        if invalid == Some(false) && !finished {
            return Element::More;
        }
        let mut stream = serde_json::Deserializer::from_slice(bytes).into_iter::<E>();
        return match stream.next() {
            Some(Ok(element)) => Element::Done(element, stream.byte_offset()),
            Some(Err(e)) if (e.is_eof() || at_end(bytes, &e)) && !finished => Element::More,
            Some(Err(e)) => Element::Failed(e),
            None => Element::More,
        };
    }
    match outcome {
        Some(Ok(element)) => {
            let delimited = matches!(bytes.first(), Some(b'{' | b'[' | b'"'));
            if end == bytes.len() && !delimited && !finished {
                // A number may go on in the next chunk.
                return Element::More;
            }
            Element::Done(element, end)
        }
        Some(Err(e)) if e.is_eof() && !finished => Element::More,
        Some(Err(e)) => {
            // An error on the last byte held may be a value the next chunk completes.
            if !finished && at_end(bytes, &e) {
                return Element::More;
            }
            Element::Failed(e)
        }
        None => Element::More,
    }
}

/// Whether serde_json placed `e` on the last byte of `bytes` (or past it).
fn at_end(bytes: &[u8], e: &serde_json::Error) -> bool {
    offset_in(bytes, e.line(), e.column()) + 1 >= bytes.len()
}

/// The offset in `text` of the byte at a 1-based line and serde_json column counted from its
/// start (where serde_json's reader stood, less one: the byte it had just read).
fn offset_in(text: &[u8], line: usize, column: usize) -> usize {
    let mut line_start = 0;
    for _ in 1..line {
        match text
            .get(line_start..)
            .and_then(|rest| memchr::memchr(b'\n', rest))
        {
            Some(at) => line_start += at + 1,
            None => break,
        }
    }
    line_start + column.saturating_sub(1)
}

fn error_from(
    held: &[u8],
    e: &serde_json::Error,
    (line, column): (usize, usize),
    at: usize,
) -> StreamError {
    StreamError {
        eof: e.is_eof(),
        reason: crate::transport::without_position(e),
        line,
        column,
        snippet: crate::transport::snippet_at(held, at),
    }
}

#[cfg(test)]
mod tests;
