//! The capture images of verification sessions (a selfie frame, the document's front and
//! back), sealed like every personal field, kept for a reviewer to look at: while the
//! session is undecided, then for the key's `image_retention_days` (0: deleted in the
//! transaction that decides, cancels or expires the session). The housekeeping sweep
//! deletes what is due. Results are kept; only images go.

use crate::crypto::Slot;
use crate::db::{db_err, Store, WriteTx};
use sqlx::Row;
use vouch_core::ids::{OrgId, SessionId};
use vouch_core::{now_millis, Error, Millis, Result};

const DAY_MS: i64 = 24 * 3600 * 1000;

/// What is stored of one image.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageInfo {
    /// `selfie`, `document_front` or `document_back`.
    pub name: String,
    /// `image/jpeg`, `image/png` or `image/webp`.
    pub content_type: String,
    /// Size of the image.
    pub size_bytes: i64,
    /// When it was captured (epoch ms).
    pub created_at: Millis,
    /// When it will be deleted (epoch ms); none while the session is undecided.
    pub delete_after: Option<Millis>,
}

fn slot<'a>(id: &'a str, name: &'a str) -> Slot<'a> {
    Slot {
        table: "session_images",
        column: name,
        row: id,
    }
}

/// Sets the deletion time of a session's images (now + their keep days) and deletes
/// those due at once; call in the transaction that ends the session.
pub(crate) async fn schedule_deletion(
    store: &Store,
    tx: &mut WriteTx,
    id: &SessionId,
    now: Millis,
) -> Result<()> {
    sqlx::query(&store.sql(
        "UPDATE session_images SET delete_after = $1 + keep_days * $2 \
         WHERE session_id = $3 AND delete_after IS NULL",
    ))
    .bind(now)
    .bind(DAY_MS)
    .bind(id.as_str())
    .execute(&mut **tx)
    .await
    .map_err(db_err)?;
    sqlx::query(
        &store.sql("DELETE FROM session_images WHERE session_id = $1 AND delete_after <= $2"),
    )
    .bind(id.as_str())
    .bind(now)
    .execute(&mut **tx)
    .await
    .map_err(db_err)?;
    Ok(())
}

/// An image to keep with a capture step.
#[derive(Debug, Clone, Copy)]
pub struct NewImage<'a> {
    /// `selfie`, `document_front` or `document_back`.
    pub name: &'a str,
    /// Its media type.
    pub content_type: &'a str,
    /// The image as received.
    pub bytes: &'a [u8],
    /// Days to keep it after the session ends (the key's image retention).
    pub keep_days: u32,
}

/// Stores (or replaces, on a retake) an image of a session, sealed, in `tx`.
pub(crate) async fn put_in_tx(
    store: &Store,
    tx: &mut WriteTx,
    org: &OrgId,
    id: &SessionId,
    img: &NewImage<'_>,
) -> Result<()> {
    let sealed = store.seal(slot(id.as_str(), img.name), img.bytes)?;
    let size =
        i64::try_from(img.bytes.len()).map_err(|_| Error::Invalid("image too large".into()))?;
    sqlx::query(&store.sql(
        "INSERT INTO session_images (session_id, org_id, name, content_type, sealed, size_bytes, keep_days, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (session_id, name) DO UPDATE SET content_type = excluded.content_type, \
         sealed = excluded.sealed, size_bytes = excluded.size_bytes, keep_days = excluded.keep_days, \
         created_at = excluded.created_at",
    ))
    .bind(id.as_str())
    .bind(org.as_str())
    .bind(img.name)
    .bind(img.content_type)
    .bind(sealed)
    .bind(size)
    .bind(i64::from(img.keep_days))
    .bind(now_millis())
    .execute(&mut **tx)
    .await
    .map_err(db_err)?;
    Ok(())
}

impl Store {
    /// Stores (or replaces) an image of a session on its own; the hosted flow stores its
    /// images with the capture step instead ([`Store::record_session_step`]).
    pub async fn put_session_image(
        &self,
        org: &OrgId,
        id: &SessionId,
        img: &NewImage<'_>,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        put_in_tx(self, &mut tx, org, id, img).await?;
        tx.commit().await.map_err(db_err)
    }

    /// The images a session still has.
    pub async fn session_images(&self, org: &OrgId, id: &SessionId) -> Result<Vec<ImageInfo>> {
        let rows = sqlx::query(&self.sql(
            "SELECT name, content_type, size_bytes, created_at, delete_after FROM session_images \
             WHERE session_id = $1 AND org_id = $2 ORDER BY created_at, name",
        ))
        .bind(id.as_str())
        .bind(org.as_str())
        .fetch_all(&mut *self.conn().await?)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                Ok(ImageInfo {
                    name: r.try_get("name").map_err(db_err)?,
                    content_type: r.try_get("content_type").map_err(db_err)?,
                    size_bytes: r.try_get("size_bytes").map_err(db_err)?,
                    created_at: r.try_get("created_at").map_err(db_err)?,
                    delete_after: r.try_get("delete_after").map_err(db_err)?,
                })
            })
            .collect()
    }

    /// One image of a session: (content type, bytes).
    pub async fn session_image(
        &self,
        org: &OrgId,
        id: &SessionId,
        name: &str,
    ) -> Result<(String, Vec<u8>)> {
        let row = sqlx::query(&self.sql(
            "SELECT content_type, sealed FROM session_images WHERE session_id = $1 AND org_id = $2 AND name = $3",
        ))
        .bind(id.as_str())
        .bind(org.as_str())
        .bind(name)
        .fetch_optional(&mut *self.conn().await?)
        .await
        .map_err(db_err)?
        .ok_or(Error::NotFound("image"))?;
        let content_type: String = row.try_get("content_type").map_err(db_err)?;
        let sealed: Vec<u8> = row.try_get("sealed").map_err(db_err)?;
        let bytes = self.open_sealed(slot(id.as_str(), name), &sealed).await?;
        Ok((content_type, bytes))
    }

    /// Deletes images whose retention ended before `now`; returns how many.
    pub async fn purge_session_images(&self, now: Millis) -> Result<u64> {
        let done = sqlx::query(&self.sql(
            "DELETE FROM session_images WHERE delete_after IS NOT NULL AND delete_after <= $1",
        ))
        .bind(now)
        .execute(&mut *self.conn().await?)
        .await
        .map_err(db_err)?;
        Ok(done.rows_affected())
    }
}
