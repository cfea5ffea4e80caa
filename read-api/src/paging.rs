//! Cursor pages of the Postgres lists: the query asks for one row more than the page, and that
//! row, when it comes, says there is a next page.
use uuid::Uuid;

use crate::error::ReadError;

/// A page's size when the caller gives none.
pub(crate) const DEFAULT_PAGE: i64 = 20;
/// The largest page.
pub(crate) const MAX_PAGE: i64 = 100;

/// The page size asked for, within 1 to [`MAX_PAGE`] (422 otherwise).
pub(crate) fn page_size(limit: Option<i64>) -> Result<i64, ReadError> {
    let limit = limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ReadError::Invalid(format!(
            "limit must be 1 to {MAX_PAGE}, got {limit}"
        )));
    }
    Ok(limit)
}

/// The page of `rows` (fetched with `limit + 1`), and the cursor of the next one: the last
/// item's, when there are more.
pub(crate) fn split_page<T>(
    mut rows: Vec<T>,
    limit: i64,
    cursor: impl Fn(&T) -> Uuid,
) -> (Vec<T>, Option<Uuid>) {
    let limit = usize::try_from(limit).unwrap_or(0);
    if rows.len() <= limit {
        return (rows, None);
    }
    rows.truncate(limit);
    let next = rows.last().map(cursor);
    (rows, next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_names_the_next_only_when_more_rows_came_than_asked() {
        let ids: Vec<Uuid> = (1..=3).map(Uuid::from_u128).collect();
        assert_eq!(split_page(ids.clone(), 3, |id| *id), (ids.clone(), None));
        assert_eq!(
            split_page(ids.clone(), 2, |id| *id),
            (ids[..2].to_vec(), Some(ids[1]))
        );
        assert!(page_size(Some(0)).is_err());
        assert_eq!(page_size(None).ok(), Some(DEFAULT_PAGE));
    }
}
