//! Reading a whole V1 list, page by page, whatever page size the server chooses.
//!
//! Input: one list endpoint and the envelopes it is known to answer with. Output: every
//! item, in offset order, or an [`Error`]; never a partial list (a plan built on one would
//! take the unread objects for missing ones and plan creates for objects that exist).
//!
//! The V1 lists page with `offset`/`size` and give no maximum page size (issue 10): a
//! tenant may answer fewer items than asked. So the length of a page never ends the read:
//! - with a `count`, reading goes on until `count` items are in hand (a page that comes
//!   back empty before that is an error: the server promised more than it gives);
//! - without one (a bare array), reading goes on until an empty page.
//!
//! A server that ignores `offset` answers the same page again; that is detected and
//! refused, and the number of pages is bounded, so a read always ends.

use serde_json::Value;

use super::{decode, Client, Error};

/// The most pages one list read may take, whatever the server answers.
pub const MAX_PAGES: usize = 100_000;

/// How a list endpoint wraps its items: a bare array and/or objects holding the items
/// under one of `fields` next to an optional `count`.
#[derive(Debug, Clone, Copy)]
pub struct Envelope {
    /// Whether a bare JSON array is a valid answer.
    pub bare: bool,
    /// Members that may hold the items, tried in order.
    pub fields: &'static [&'static str],
}

/// One decoded page.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// The items, in server order.
    pub items: Vec<Value>,
    /// The total the server reports, if it reports one.
    pub count: Option<usize>,
}

impl Envelope {
    /// Decodes one answer, or says which shapes were expected.
    pub fn decode(&self, page: &Value) -> Result<Page, String> {
        if let Value::Array(items) = page {
            if self.bare {
                return Ok(Page {
                    items: items.clone(),
                    count: None,
                });
            }
        }
        if let Value::Object(map) = page {
            for f in self.fields {
                if let Some(Value::Array(items)) = map.get(*f) {
                    let count = map
                        .get("count")
                        .and_then(Value::as_u64)
                        .and_then(|c| usize::try_from(c).ok());
                    return Ok(Page {
                        items: items.clone(),
                        count,
                    });
                }
            }
        }
        Err(self.expected())
    }

    fn expected(&self) -> String {
        let mut shapes: Vec<String> = self
            .fields
            .iter()
            .map(|f| format!("{{{f}: [...], count}}"))
            .collect();
        if self.bare {
            shapes.insert(0, "a JSON array".to_string());
        }
        format!("expected {}", shapes.join(" or "))
    }
}

/// One list to read: the endpoint template, the path, extra query parameters.
pub struct List<'a> {
    /// Route template for metrics, e.g. `GET /project`.
    pub endpoint: &'static str,
    /// Request path.
    pub path: String,
    /// Query parameters besides `offset` and `size`.
    pub query: &'a [(&'static str, &'static str)],
    /// The accepted envelopes.
    pub envelope: Envelope,
}

impl Client {
    /// Reads every item of a V1 list (module doc). The first page tells the server's
    /// page size and, when it reports one, the total; with both, the remaining pages are
    /// fetched concurrently (bounded by the client's permits) and checked. If a page does
    /// not have the expected length the read goes on page by page from where the complete
    /// pages end.
    ///
    /// # Errors
    /// Any [`Error`] of a page; [`Error::Decode`] when an answer is not one of the
    /// accepted envelopes, when the server ignores `offset`, when it reports more items
    /// than it serves, or when the read would pass [`MAX_PAGES`].
    pub(super) async fn read_list(&self, list: &List<'_>) -> Result<Vec<Value>, Error> {
        let first = self.read_page(list, 0).await?;
        let mut out = first.items.clone();
        let (per_page, total) = (first.items.len(), first.count);
        if total.is_some_and(|t| out.len() >= t) {
            return Ok(out);
        }
        if per_page == 0 {
            return match total {
                Some(t) => Err(short_read(&list.path, t, 0)),
                None => Ok(out),
            };
        }
        let mut previous = first.items;
        if let Some(total) = total {
            if let Some(rest) = self.read_rest_concurrently(list, &previous, total).await? {
                out.extend(rest);
                return Ok(out);
            }
        }
        for _ in 1..MAX_PAGES {
            let page = self.read_page(list, out.len()).await?;
            if page.items.is_empty() {
                return match total {
                    Some(t) if out.len() < t => Err(short_read(&list.path, t, out.len())),
                    _ => Ok(out),
                };
            }
            if page.items == previous {
                return Err(ignores_offset(&list.path, out.len()));
            }
            out.extend(page.items.iter().cloned());
            let total = page.count.or(total);
            if total.is_some_and(|t| out.len() >= t) {
                return Ok(out);
            }
            previous = page.items;
        }
        Err(decode(
            "GET",
            &list.path,
            &format!("more than {MAX_PAGES} pages: refusing to read on"),
        ))
    }

    /// The pages after the first, fetched at once; `None` when one of them does not
    /// have the length the first page set (the caller then reads page by page).
    async fn read_rest_concurrently(
        &self,
        list: &List<'_>,
        first: &[Value],
        total: usize,
    ) -> Result<Option<Vec<Value>>, Error> {
        let per_page = first.len();
        let offsets: Vec<usize> = (1..MAX_PAGES)
            .map(|i| i * per_page)
            .take_while(|o| *o < total)
            .collect();
        let pages =
            futures::future::try_join_all(offsets.iter().map(|o| self.read_page(list, *o))).await?;
        // The first page again at the next offset: the server ignores `offset`.
        if pages.first().is_some_and(|p| p.items == first) {
            return Err(ignores_offset(&list.path, per_page));
        }
        let mut out = Vec::with_capacity(total.saturating_sub(per_page));
        for (offset, page) in offsets.iter().zip(&pages) {
            let want = per_page.min(total - offset);
            if page.items.len() != want {
                return Ok(None);
            }
            out.extend(page.items.iter().cloned());
        }
        Ok(Some(out))
    }

    async fn read_page(&self, list: &List<'_>, offset: usize) -> Result<Page, Error> {
        let mut query: Vec<(&'static str, String)> = vec![
            ("offset", offset.to_string()),
            ("size", self.page_size.to_string()),
        ];
        query.extend(list.query.iter().map(|(k, v)| (*k, (*v).to_string())));
        let answer = self
            .send(super::Request {
                method: reqwest::Method::GET,
                endpoint: list.endpoint,
                path: list.path.clone(),
                query,
                body: None,
                key: None,
                paced: false,
            })
            .await?;
        list.envelope
            .decode(&answer)
            .map_err(|m| decode("GET", &list.path, &m))
    }
}

fn short_read(path: &str, total: usize, served: usize) -> Error {
    decode(
        "GET",
        path,
        &format!(
            "the server reports {total} items but served {served} (empty page at offset {served})"
        ),
    )
}

fn ignores_offset(path: &str, offset: usize) -> Error {
    decode(
        "GET",
        path,
        &format!("the page at offset {offset} repeats the one before: the server ignores offset"),
    )
}

#[cfg(test)]
mod tests;
