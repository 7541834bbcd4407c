//! Limits a GraphQL document must meet before async-graphql parses and
//! validates it, for both transports.
//!
//! Parsing and validation are synchronous: whatever they cost is taken from
//! a runtime worker, out of reach of the request timeout. async-graphql's
//! own recursion, directive, depth and complexity checks walk every
//! fragment spread without memoising, so a one-kilobyte chain of fragments
//! each spreading the previous one twice costs 2^n before the complexity
//! limit answers; and its parser needs about 0.35 µs per token (40 ns per
//! byte inside strings and comments), seconds for a 10 MB document. The
//! checks here bound the parser's input first, then measure the parsed
//! document in linear time (one pass, each fragment expanded once) so
//! that validation only ever sees documents of bounded expanded size.

use super::error::ErrorCode;
use async_graphql::{
    parser::{
        self,
        types::{ExecutableDocument, OperationType, Selection, SelectionSet},
    },
    Request, ServerError,
};
use std::{collections::HashMap, sync::OnceLock};
use tokio::sync::Semaphore;

/// Longest accepted document text (variables do not count): the WebSocket
/// message limit, so both transports accept the same documents. Large
/// values belong in variables, which are JSON.
pub const MAX_DOCUMENT_BYTES: usize = 256 * 1024;
/// Lexical tokens in a document, which bounds parse time (about 10 ms in a
/// release build at the limit).
pub const MAX_DOCUMENT_TOKENS: usize = 30_000;
/// Selections (fields, fragment spreads, inline fragments) one operation or
/// fragment may expand to once each spread is replaced by its fragment:
/// five times what the complexity limit lets execute.
pub const MAX_EXPANDED_SELECTIONS: u64 = 10_000;
/// The same summed over every operation and fragment definition, which is
/// what validation walks in all.
pub const MAX_DOCUMENT_SELECTIONS: u64 = 50_000;
/// Nested selection sets and fragment spreads. async-graphql's recursion
/// limit (32) answers first for operations; this one also covers unused
/// fragments, which validation walks recursively too.
pub const MAX_NESTING: usize = 64;
/// Longest error message a client receives: a parse error used to echo the
/// whole offending line, and some messages quote client input.
pub const MAX_ERROR_MESSAGE_CHARS: usize = 300;
/// Documents up to this size are checked in place; larger ones on the
/// blocking pool, where the parser cannot hold a runtime worker.
const INLINE_CHECK_BYTES: usize = 16 * 1024;

/// Set on a request whose document passed [`check`] and is parsed, so the
/// schema extension does not check it twice.
pub(crate) struct Checked;

fn refusal(code: ErrorCode, message: impl Into<String>) -> ServerError {
    let mut err = ServerError::new(message, None);
    err.extensions
        .get_or_insert_with(Default::default)
        .set("code", code.as_str());
    err
}

fn too_complex(message: String) -> ServerError {
    refusal(ErrorCode::GraphqlValidationFailed, message)
}

/// Parses `query` if it is within the limits above; errors carry their
/// `extensions.code`.
pub fn check(query: &str) -> Result<ExecutableDocument, ServerError> {
    if query.len() > MAX_DOCUMENT_BYTES {
        return Err(too_complex(format!(
            "Document too large: at most {MAX_DOCUMENT_BYTES} bytes (send values as variables)"
        )));
    }
    if count_tokens(query, MAX_DOCUMENT_TOKENS) > MAX_DOCUMENT_TOKENS {
        return Err(too_complex(format!(
            "Document too large: at most {MAX_DOCUMENT_TOKENS} tokens"
        )));
    }
    let doc = parser::parse_query(query).map_err(parse_error)?;
    measure(&doc).map_err(|limit| too_complex(limit.message()))?;
    Ok(doc)
}

/// Checks the request's document and attaches it parsed, on the blocking
/// pool when it is large.
pub async fn prepare(request: Request) -> Result<Request, ServerError> {
    if request.query.len() <= INLINE_CHECK_BYTES {
        return attach(request);
    }
    if tokio::runtime::Handle::try_current().is_err() {
        return attach(request);
    }
    // A flood of large documents queues here instead of claiming hundreds
    // of blocking threads.
    let permit = blocking_checks().acquire().await;
    let checked = tokio::task::spawn_blocking(move || attach(request)).await;
    drop(permit);
    checked.unwrap_or_else(|e| {
        tracing::error!(error = %e, "document check failed");
        Err(refusal(
            ErrorCode::InternalServerError,
            super::error::INTERNAL_MESSAGE,
        ))
    })
}

fn attach(mut request: Request) -> Result<Request, ServerError> {
    let doc = check(&request.query)?;
    request.set_parsed_query(doc);
    Ok(request.data(Checked))
}

fn blocking_checks() -> &'static Semaphore {
    static PERMITS: OnceLock<Semaphore> = OnceLock::new();
    PERMITS.get_or_init(|| Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get())))
}

/// Whether any operation of the document is of type `ty`.
pub fn has_operation(doc: &ExecutableDocument, ty: OperationType) -> bool {
    doc.operations.iter().any(|(_, op)| op.node.ty == ty)
}

/// Whether the document holds anything but queries.
pub fn has_non_query(doc: &ExecutableDocument) -> bool {
    doc.operations
        .iter()
        .any(|(_, op)| op.node.ty != OperationType::Query)
}

/// Cuts `message` to [`MAX_ERROR_MESSAGE_CHARS`] characters.
pub fn bound_message(message: &mut String) {
    if let Some((at, _)) = message.char_indices().nth(MAX_ERROR_MESSAGE_CHARS) {
        message.truncate(at);
        message.push('…');
    }
}

/// pest's message quotes the whole offending line (hundreds of kilobytes
/// for a one-line document) between the position and what was expected;
/// the position is in `locations` already, so only the expectation stays.
fn parse_error(err: parser::Error) -> ServerError {
    let mut server_error = ServerError::from(err);
    if server_error.message.contains("\n") {
        let expected: Vec<&str> = server_error
            .message
            .lines()
            .filter_map(|l| l.trim_start().strip_prefix("= "))
            .collect();
        server_error.message = if expected.is_empty() {
            "Syntax error".to_owned()
        } else {
            format!("Syntax error: {}", expected.join("; "))
        };
    }
    bound_message(&mut server_error.message);
    server_error
        .extensions
        .get_or_insert_with(Default::default)
        .set("code", ErrorCode::GraphqlParseFailed.as_str());
    server_error
}

/// Counts GraphQL tokens, stopping once past `limit`. Commas count: the
/// parser spends as long on them as on any token. Strings, block strings
/// and numbers count as one token, comments as none.
fn count_tokens(src: &str, limit: usize) -> usize {
    let bytes = src.as_bytes();
    let mut count = 0;
    let mut i = 0;
    while i < bytes.len() && count <= limit {
        let b = bytes[i];
        match b {
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' && bytes[i] != b'\r' {
                    i += 1;
                }
            }
            b'"' if bytes[i..].starts_with(b"\"\"\"") => {
                i += 3;
                while i < bytes.len() && !bytes[i..].starts_with(b"\"\"\"") {
                    i += if bytes[i..].starts_with(b"\\\"\"\"") { 4 } else { 1 };
                }
                i += 3;
                count += 1;
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && !matches!(bytes[i], b'"' | b'\n' | b'\r') {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
                count += 1;
            }
            b'.' if bytes[i..].starts_with(b"...") => {
                i += 3;
                count += 1;
            }
            b'-' | b'0'..=b'9' => {
                i += 1;
                while i < bytes.len() && matches!(bytes[i], b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-') {
                    i += 1;
                }
                count += 1;
            }
            b'_' | b'a'..=b'z' | b'A'..=b'Z' => {
                i += 1;
                while i < bytes.len() && (bytes[i] == b'_' || bytes[i].is_ascii_alphanumeric()) {
                    i += 1;
                }
                count += 1;
            }
            _ => {
                i += 1;
                count += 1;
            }
        }
    }
    count
}

#[derive(Debug, PartialEq, Eq)]
enum Limit {
    Definition,
    Document,
    Nesting,
    /// async-graphql's recursion check follows spreads through a cycle
    /// until its depth limit: 2^32 paths when each fragment spreads the
    /// other twice. Validation would refuse the cycle only afterwards.
    Cycle(String),
}

impl Limit {
    fn message(&self) -> String {
        match self {
            Self::Definition => format!(
                "Query is too complex: an operation or fragment expands to more than {MAX_EXPANDED_SELECTIONS} selections"
            ),
            Self::Document => format!(
                "Query is too complex: the document expands to more than {MAX_DOCUMENT_SELECTIONS} selections"
            ),
            Self::Nesting => format!(
                "Query is nested too deep: more than {MAX_NESTING} levels of selections and fragments"
            ),
            Self::Cycle(name) => format!("Cannot spread fragment \"{name}\" within itself"),
        }
    }
}

#[derive(Clone, Copy, Default)]
struct Size {
    selections: u64,
    /// Levels of selection sets and fragments below and including this one.
    nesting: usize,
}

struct Expansion<'a> {
    doc: &'a ExecutableDocument,
    /// `None` while a fragment is being expanded: meeting it again is a
    /// cycle.
    fragments: HashMap<&'a str, Option<Size>>,
}

impl<'a> Expansion<'a> {
    fn selection_set(&mut self, set: &'a SelectionSet, depth: usize) -> Result<Size, Limit> {
        if depth > MAX_NESTING {
            return Err(Limit::Nesting);
        }
        let mut size = Size::default();
        for item in &set.items {
            let inner = match &item.node {
                Selection::Field(field) if field.node.selection_set.node.items.is_empty() => Size::default(),
                Selection::Field(field) => self.selection_set(&field.node.selection_set.node, depth + 1)?,
                Selection::InlineFragment(inline) => {
                    self.selection_set(&inline.node.selection_set.node, depth + 1)?
                }
                Selection::FragmentSpread(spread) => {
                    self.fragment(spread.node.fragment_name.node.as_str(), depth + 1)?
                }
            };
            size.selections = size.selections.saturating_add(1).saturating_add(inner.selections);
            size.nesting = size.nesting.max(inner.nesting);
            if size.selections > MAX_EXPANDED_SELECTIONS {
                return Err(Limit::Definition);
            }
        }
        size.nesting += 1;
        Ok(size)
    }

    fn fragment(&mut self, name: &'a str, depth: usize) -> Result<Size, Limit> {
        match self.fragments.get(name) {
            Some(Some(size)) if depth + size.nesting > MAX_NESTING + 1 => Err(Limit::Nesting),
            Some(Some(size)) => Ok(*size),
            Some(None) => Err(Limit::Cycle(name.to_owned())),
            None => {
                let Some(definition) = self.doc.fragments.get(name) else {
                    // Unknown: validation reports it.
                    return Ok(Size::default());
                };
                self.fragments.insert(name, None);
                let size = self.selection_set(&definition.node.selection_set.node, depth)?;
                self.fragments.insert(name, Some(size));
                Ok(size)
            }
        }
    }
}

/// Expands every operation and fragment definition once, memoising
/// fragments, and refuses what is past the limits.
fn measure(doc: &ExecutableDocument) -> Result<(), Limit> {
    let mut expansion = Expansion {
        doc,
        fragments: HashMap::with_capacity(doc.fragments.len()),
    };
    let mut total: u64 = 0;
    for (_, op) in doc.operations.iter() {
        let size = expansion.selection_set(&op.node.selection_set.node, 1)?;
        total = total.saturating_add(size.selections);
    }
    for name in doc.fragments.keys() {
        let size = expansion.fragment(name.as_str(), 1)?;
        total = total.saturating_add(size.selections);
    }
    if total > MAX_DOCUMENT_SELECTIONS {
        return Err(Limit::Document);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: usize, spreads: usize) -> String {
        let mut q = format!("query {{ ...F{n} }} fragment F0 on Query {{ __typename }}");
        for i in 1..=n {
            q.push_str(&format!(" fragment F{i} on Query {{"));
            for _ in 0..spreads {
                q.push_str(&format!(" ...F{}", i - 1));
            }
            q.push_str(" }");
        }
        q
    }

    fn measured(query: &str) -> Result<(), Limit> {
        measure(&parser::parse_query(query).unwrap())
    }

    #[test]
    fn a_doubling_fragment_chain_is_refused_at_once() {
        let started = std::time::Instant::now();
        assert_eq!(measured(&chain(300, 2)), Err(Limit::Nesting));
        assert_eq!(measured(&chain(29, 2)), Err(Limit::Definition));
        assert!(started.elapsed() < std::time::Duration::from_millis(100));
        // 2^13 = 8192 leaves plus the spreads above them: past the limit.
        assert_eq!(measured(&chain(13, 2)), Err(Limit::Definition));
        assert_eq!(measured(&chain(10, 2)), Ok(()));
    }

    #[test]
    fn cycles_are_refused_and_unknown_fragments_left_to_validation() {
        assert_eq!(
            measured("{ ...A } fragment A on Query { ...B ...B } fragment B on Query { ...A ...A }"),
            Err(Limit::Cycle("A".into()))
        );
        assert_eq!(
            measured("{ __typename } fragment A on Query { ...A }"),
            Err(Limit::Cycle("A".into()))
        );
        assert_eq!(measured("{ ...Missing }"), Ok(()));
    }

    #[test]
    fn nesting_counts_fields_and_fragments() {
        let deep = format!("{}{}", "{ a ".repeat(60), "}".repeat(60));
        assert_eq!(measured(&deep), Ok(()));
        let chained: String = (1..=70)
            .map(|i| format!("fragment F{i} on Query {{ ...F{} }} ", i - 1))
            .collect::<String>()
            + "fragment F0 on Query { __typename } { __typename }";
        assert_eq!(measured(&chained), Err(Limit::Nesting));
    }

    #[test]
    fn unused_fragments_count_towards_the_document() {
        let big: String = (0..5000).map(|i| format!("a{i}: __typename ")).collect();
        let unused: String = (0..11)
            .map(|i| format!("fragment U{i} on Query {{ ...Big }} "))
            .collect();
        let doc = format!("{{ __typename }} fragment Big on Query {{ {big} }} {unused}");
        assert_eq!(measured(&doc), Err(Limit::Document));
    }

    #[test]
    fn tokens_are_counted_like_the_parser_sees_them() {
        assert_eq!(
            count_tokens("{ a(x: -1.5e+3, y: \"s t\\\"r\") ...F } # c c c", 100),
            14
        );
        assert_eq!(count_tokens("\"\"\"block \\\"\"\" \"\"\" a", 100), 2);
        assert_eq!(count_tokens(&",".repeat(1000), 10), 11);
    }

    #[test]
    fn limits_answer_with_codes_and_short_messages() {
        let code = |e: &ServerError| e.extensions.as_ref().and_then(|x| x.get("code")).cloned();
        let err = check(&format!("{{ a {} !", "x".repeat(100_000))).unwrap_err();
        assert_eq!(code(&err), Some(ErrorCode::GraphqlParseFailed.as_str().into()));
        assert!(
            err.message.chars().count() <= MAX_ERROR_MESSAGE_CHARS + 1,
            "{}",
            err.message
        );
        assert!(err.message.starts_with("Syntax error"), "{}", err.message);
        let err = check(&"{ a }".repeat(MAX_DOCUMENT_BYTES / 4)).unwrap_err();
        assert_eq!(
            code(&err),
            Some(ErrorCode::GraphqlValidationFailed.as_str().into())
        );
        let err = check(&format!("{{ {} }}", "a ".repeat(MAX_DOCUMENT_TOKENS))).unwrap_err();
        assert!(err.message.contains("tokens"), "{}", err.message);
        assert!(check("{ __typename }").is_ok());
    }
}
