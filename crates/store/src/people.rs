//! People and their sealed personal data. Every field is sealed on its own, bound to its
//! row and column; e-mail and phone also get blind indexes for equality lookups.

use crate::crypto::Slot;
use crate::db::{db_err, Store};
use sqlx::any::AnyRow;
use sqlx::Row;
use vouch_core::ids::{OrgId, PersonId};
use vouch_core::model::{Person, PersonData};
use vouch_core::{now_millis, Error, Result};

const FIELDS: [&str; 6] = [
    "given_names",
    "surname",
    "date_of_birth",
    "document_number",
    "email",
    "phone",
];

fn field<'a>(data: &'a PersonData, name: &str) -> Option<&'a String> {
    match name {
        "given_names" => data.given_names.as_ref(),
        "surname" => data.surname.as_ref(),
        "date_of_birth" => data.date_of_birth.as_ref(),
        "document_number" => data.document_number.as_ref(),
        "email" => data.email.as_ref(),
        _ => data.phone.as_ref(),
    }
}

fn normalise_email(e: &str) -> String {
    e.trim().to_lowercase()
}

impl Store {
    /// Creates a person with sealed personal data.
    pub async fn create_person(
        &self,
        org: &OrgId,
        external_ref: Option<&str>,
        data: &PersonData,
    ) -> Result<Person> {
        for name in FIELDS {
            if field(data, name).is_some_and(|v| v.len() > 1024) {
                return Err(Error::Invalid(format!("{name} is longer than 1024 bytes")));
            }
        }
        let id = PersonId::generate();
        let now = now_millis();
        let mut sealed = Vec::with_capacity(FIELDS.len());
        for name in FIELDS {
            let slot = Slot {
                table: "persons",
                column: name,
                row: id.as_str(),
            };
            sealed.push(match field(data, name) {
                Some(v) => Some(self.seal(slot, v.as_bytes())?),
                None => None,
            });
        }
        let email_bidx = data
            .email
            .as_deref()
            .map(|e| self.blind_index("persons.email", &normalise_email(e)));
        let phone_bidx = data
            .phone
            .as_deref()
            .map(|p| self.blind_index("persons.phone", p.trim()));
        let sql = self.sql(
            "INSERT INTO persons (id, org_id, external_ref, given_names, surname, date_of_birth, document_number, \
             email, phone, email_bidx, phone_bidx, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        );
        let mut q = sqlx::query(&sql)
            .bind(id.as_str())
            .bind(org.as_str())
            .bind(external_ref.map(str::to_string));
        for s in sealed {
            q = q.bind(s);
        }
        q.bind(email_bidx)
            .bind(phone_bidx)
            .bind(now)
            .bind(now)
            .execute(&mut *self.conn().await?)
            .await
            .map_err(db_err)?;
        Ok(Person {
            id,
            org_id: org.clone(),
            external_ref: external_ref.map(str::to_string),
            data: data.clone(),
            created_at: now,
        })
    }

    async fn person_from_row(&self, row: &AnyRow) -> Result<Person> {
        let id = PersonId::from_string(row.try_get::<String, _>("id").map_err(db_err)?);
        let mut data = PersonData::default();
        for name in FIELDS {
            let blob: Option<Vec<u8>> = row.try_get(name).map_err(db_err)?;
            let slot = Slot {
                table: "persons",
                column: name,
                row: id.as_str(),
            };
            let value = self.open_text(slot, blob).await?;
            match name {
                "given_names" => data.given_names = value,
                "surname" => data.surname = value,
                "date_of_birth" => data.date_of_birth = value,
                "document_number" => data.document_number = value,
                "email" => data.email = value,
                _ => data.phone = value,
            }
        }
        Ok(Person {
            id,
            org_id: OrgId::from_string(row.try_get::<String, _>("org_id").map_err(db_err)?),
            external_ref: row.try_get("external_ref").map_err(db_err)?,
            data,
            created_at: row.try_get("created_at").map_err(db_err)?,
        })
    }

    /// A person of an organisation.
    pub async fn person(&self, org: &OrgId, id: &PersonId) -> Result<Person> {
        let row = sqlx::query(&self.sql("SELECT * FROM persons WHERE id = $1 AND org_id = $2"))
            .bind(id.as_str())
            .bind(org.as_str())
            .fetch_optional(&mut *self.conn().await?)
            .await
            .map_err(db_err)?
            .ok_or(Error::NotFound("person"))?;
        self.person_from_row(&row).await
    }

    /// The people of an organisation with this e-mail address (case-insensitive).
    pub async fn find_people_by_email(&self, org: &OrgId, email: &str) -> Result<Vec<Person>> {
        let bidx = self.blind_index("persons.email", &normalise_email(email));
        let rows = sqlx::query(&self.sql(
            "SELECT * FROM persons WHERE org_id = $1 AND email_bidx = $2 ORDER BY created_at",
        ))
        .bind(org.as_str())
        .bind(bidx)
        .fetch_all(&mut *self.conn().await?)
        .await
        .map_err(db_err)?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            out.push(self.person_from_row(row).await?);
        }
        Ok(out)
    }
}
