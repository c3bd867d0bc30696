//! The sandbox network: the default in dev mode. It answers for the vendor's documented
//! sandbox users (so code written against the vendor's sandbox runs unchanged) and for
//! vouch's own test numbers, which cover each signal a production network can give.
//! Any other number behaves like a healthy line the network knows nothing about: no SIM
//! swap, reachable, no subscriber record, no network authentication (OTP fallback).
//!
//! The subscriber records are made-up fixtures; see `docs/phone.md` for the table.

use crate::number::E164;
use crate::telco::*;
use async_trait::async_trait;
use chrono::{Duration, Utc};

/// How possession behaves for a test number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Possession {
    /// Through the client SDK: OTP, Instant Link, network auth (OTP fallback).
    Sdk,
    /// Completes by itself, so a server-only integration can walk start → validate.
    Auto,
    /// Network authentication verifies the device (the mobile auth path).
    NetworkVerified,
    /// Network authentication finds the device on another number.
    NetworkMismatch,
}

/// A sandbox subscriber.
#[derive(Debug, Clone)]
pub struct Persona {
    /// E.164.
    pub e164: &'static str,
    /// What the docs call it.
    pub label: &'static str,
    /// Given and family name.
    pub name: (&'static str, &'static str),
    /// Birth date.
    pub birthdate: &'static str,
    /// SSN (9 digits).
    pub ssn: &'static str,
    /// Street address, city, region, postal code.
    pub address: (&'static str, &'static str, &'static str, &'static str),
    /// Email.
    pub email: &'static str,
    /// Possession behaviour.
    pub possession: Possession,
    /// Hours since the last SIM change, if any.
    pub sim_change_hours: Option<i64>,
    /// Reachable, and over which channels.
    pub reachable: bool,
    /// SMS only (no data): a weak line.
    pub sms_only: bool,
    /// The operator has a subscriber record.
    pub has_record: bool,
    /// The record belongs to someone other than `name` (the number changed hands).
    pub changed_hands: bool,
}

const fn persona(
    e164: &'static str,
    label: &'static str,
    name: (&'static str, &'static str),
    birthdate: &'static str,
    ssn: &'static str,
    possession: Possession,
) -> Persona {
    Persona {
        e164,
        label,
        name,
        birthdate,
        ssn,
        address: ("39 South Trail", "San Antonio", "TX", "78285"),
        email: "",
        possession,
        sim_change_hours: None,
        reachable: true,
        sms_only: false,
        has_record: true,
        changed_hands: false,
    }
}

/// Every sandbox subscriber: the vendor's documented users first, then vouch's own.
pub fn personas() -> Vec<Persona> {
    use Possession::*;
    let mut v = vec![
        persona("+12001001695", "Pre-Fill short-term user: walks start, validate, challenge, complete without the client SDK", ("Milo", "Pinson"), "1981-07-14", "565228370", Auto),
        persona("+12001001693", "Pre-Fill user", ("Marcia", "Longo"), "1979-02-03", "565228371", Sdk),
        persona("+12001001688", "Pre-Fill user", ("Nevin", "Chattey"), "1990-11-23", "565228372", Sdk),
        persona("+12001001687", "Pre-Fill user", ("Agretha", "Chene"), "1986-05-30", "565228373", Sdk),
        persona("+15550000000", "Pre-Fill + Mobile Auth user", ("Cathee", "Simmonett"), "1975-09-09", "565228374", NetworkVerified),
        persona("+15555555555", "Pre-Fill + Mobile Auth user", ("Van", "Moors"), "1992-01-17", "565228375", NetworkVerified),
        persona("+12001004009", "Prove Identity start example", ("Tod", "Weedall"), "1984-12-10", "565252770", Sdk),
        persona("+12001004010", "Verified Users desktop example", ("Addy", "Epinay"), "1988-03-21", "565228376", Sdk),
        persona("+12001004011", "Verified Users short-term user: passes without the client SDK", ("Sheilakathryn", "Butrimovich"), "1983-08-08", "565228377", Auto),
        persona("+447968900002", "Verified Users short-term international user", ("Rozella", "Kimpton"), "1991-04-12", "565228378", Auto),
        persona("+12001004018", "Unify short-term user", ("Barbaraanne", "Canet"), "1987-10-02", "565228379", Auto),
        persona("+2001004029", "Unify short-term user", ("Janos", "Martina"), "1982-06-19", "565228380", Auto),
        persona("+12001004014", "Unify user: pending, then unify-status true with a proveId", ("Lorant", "Nerger"), "1980-12-01", "565228381", Sdk),
        persona("+12001004015", "Unify user", ("Laney", "Dyball"), "1993-02-27", "565228382", Sdk),
        persona("+2001004025", "Unify user", ("Bertie", "Fremont"), "1978-07-07", "565228383", Sdk),
        persona("+2001004026", "Unify user", ("Bonnie", "Sidon"), "1989-09-15", "565228384", Sdk),
        persona("+12001004016", "Unify Mobile Auth user", ("Inge", "Galier"), "1985-01-05", "565228385", NetworkVerified),
        persona("+12001004017", "Unify Mobile Auth user", ("Jesse", "Mashro"), "1994-03-03", "565228386", NetworkVerified),
        persona("+12001004041", "Unify Mobile Auth user", ("Penny", "Jowers"), "1976-11-11", "565228387", NetworkVerified),
        persona("+2001004027", "Unify Mobile Auth user", ("Allissa", "Zoren"), "1990-08-18", "565228388", NetworkVerified),
        persona("+2001004028", "Unify Mobile Auth user", ("Wendy", "Strover"), "1984-04-24", "565228389", NetworkVerified),
        persona("+2001004043", "Unify Mobile Auth user", ("Amii", "Porritt"), "1991-12-12", "565228390", NetworkVerified),
        persona("+12001004031", "Identity Manager user", ("Merla", "Schumacher"), "1983-05-05", "565228391", Sdk),
        persona("+12001004035", "Identity Manager user", ("Jaimie", "Beddo"), "1987-07-27", "565228392", Sdk),
        persona("+12001004036", "Identity Manager user", ("Stanly", "Ovid"), "1979-10-10", "565228393", Sdk),
    ];
    let own = |e164, label, possession| Persona {
        address: ("100 Main Street", "Springfield", "IL", "62701"),
        email: "avery.quinn@example.com",
        ..persona(
            e164,
            label,
            ("Avery", "Quinn"),
            "1990-04-01",
            "123456789",
            possession,
        )
    };
    v.push(own(
        "+12015550100",
        "vouch: success (possession through the client SDK)",
        Sdk,
    ));
    v.push(own(
        "+12015550101",
        "vouch: success, possession completes by itself (server-only integrations)",
        Auto,
    ));
    v.push(Persona {
        sim_change_hours: Some(3),
        ..own("+12015550102", "vouch: SIM swapped 3 hours ago", Auto)
    });
    v.push(Persona {
        changed_hands: true,
        sim_change_hours: Some(240),
        ..own(
            "+12015550103",
            "vouch: number changed hands 10 days ago",
            Auto,
        )
    });
    v.push(Persona {
        reachable: false,
        ..own("+12015550104", "vouch: disconnected line", Auto)
    });
    v.push(Persona {
        has_record: false,
        ..own(
            "+12015550105",
            "vouch: no data match (no subscriber record)",
            Auto,
        )
    });
    v.push(Persona {
        sim_change_hours: Some(96),
        sms_only: true,
        ..own(
            "+12015550106",
            "vouch: low trust (SIM changed 4 days ago, SMS-only line)",
            Auto,
        )
    });
    v.push(own(
        "+12015550107",
        "vouch: network authentication unavailable, OTP fallback",
        Sdk,
    ));
    v.push(own(
        "+12015550108",
        "vouch: network authentication verifies the device",
        NetworkVerified,
    ));
    v.push(own(
        "+12015550109",
        "vouch: network authentication finds another number",
        NetworkMismatch,
    ));
    v.push(Persona {
        birthdate: "2010-06-01",
        ..own(
            "+12015550110",
            "vouch: a 16-year-old subscriber (age checks fail)",
            Sdk,
        )
    });
    v
}

/// The sandbox provider.
#[derive(Debug, Clone)]
pub struct Sandbox {
    personas: Vec<Persona>,
}

impl Default for Sandbox {
    fn default() -> Self {
        Sandbox {
            personas: personas(),
        }
    }
}

fn norm(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Jaro-Winkler-ish similarity in 0–99 (CAMARA's score for text that did not match):
/// here the share of the longer string's characters found in order (LCS), cheap and
/// deterministic for fixtures.
fn similarity(a: &str, b: &str) -> u8 {
    let (a, b): (Vec<char>, Vec<char>) = (norm(a).chars().collect(), norm(b).chars().collect());
    let longest = a.len().max(b.len());
    if longest == 0 {
        return 0;
    }
    let mut dp = vec![0usize; b.len() + 1];
    for ca in &a {
        let mut prev = 0;
        for (j, cb) in b.iter().enumerate() {
            let tmp = dp[j + 1];
            dp[j + 1] = if ca == cb {
                prev + 1
            } else {
                dp[j + 1].max(dp[j])
            };
            prev = tmp;
        }
    }
    ((dp[b.len()] * 99) / longest) as u8
}

fn text_match(claim: &str, truth: &str) -> FieldMatch {
    if norm(claim) == norm(truth) {
        FieldMatch {
            matched: Tri::True,
            score: None,
        }
    } else {
        FieldMatch {
            matched: Tri::False,
            score: Some(similarity(claim, truth)),
        }
    }
}

fn exact_match(claim: &str, truth: &str) -> FieldMatch {
    FieldMatch {
        matched: if norm(claim) == norm(truth) {
            Tri::True
        } else {
            Tri::False
        },
        score: None,
    }
}

impl Sandbox {
    /// The persona of a number.
    pub fn persona(&self, phone: &str) -> Option<&Persona> {
        self.personas.iter().find(|p| p.e164 == phone)
    }

    /// All personas (for docs and `GET /dev/phone-numbers`).
    pub fn all(&self) -> &[Persona] {
        &self.personas
    }

    fn record(&self, phone: &E164) -> Result<KycAttributes, TelcoError> {
        let p = match self.persona(phone.as_str()) {
            Some(p) if p.has_record => p,
            _ => {
                return Err(TelcoError::NotApplicable(
                    "IDENTIFIER_NOT_FOUND: no subscriber record".into(),
                ))
            }
        };
        let (given, family) = if p.changed_hands {
            ("Jordan", "Reyes")
        } else {
            p.name
        };
        let (street, city, region, postal) = p.address;
        let (number, street_name) = street.split_once(' ').unwrap_or(("", street));
        Ok(KycAttributes {
            id_document: Some(p.ssn.to_string()),
            id_document_type: Some("social_security_id".into()),
            name: Some(format!("{given} {family}")),
            given_name: Some(given.into()),
            family_name: Some(family.into()),
            address: Some(street.into()),
            street_name: Some(street_name.into()),
            street_number: Some(number.into()),
            postal_code: Some(postal.into()),
            region: Some(region.into()),
            locality: Some(city.into()),
            country: phone.region().map(str::to_string),
            birthdate: Some(
                if p.changed_hands {
                    "1970-01-01"
                } else {
                    p.birthdate
                }
                .into(),
            ),
            email: (!p.email.is_empty()).then(|| p.email.to_string()),
            ..Default::default()
        })
    }
}

#[async_trait]
impl Telco for Sandbox {
    fn name(&self) -> &'static str {
        "sandbox"
    }

    fn is_test_number(&self, e164: &str) -> bool {
        self.persona(e164).is_some()
    }

    fn carrier(&self, _phone: &E164) -> Option<String> {
        Some("vouch Sandbox Mobile".into())
    }

    async fn sim_swap_check(&self, phone: &E164, max_age_hours: u32) -> Result<bool, TelcoError> {
        if !(1..=2400).contains(&max_age_hours) {
            return Err(TelcoError::Invalid("maxAge must be 1 to 2400 hours".into()));
        }
        Ok(self
            .persona(phone.as_str())
            .and_then(|p| p.sim_change_hours)
            .is_some_and(|h| h <= i64::from(max_age_hours)))
    }

    async fn sim_swap_date(&self, phone: &E164) -> Result<SimSwapDate, TelcoError> {
        Ok(SimSwapDate {
            latest_sim_change: self
                .persona(phone.as_str())
                .and_then(|p| p.sim_change_hours)
                .map(|h| Utc::now() - Duration::hours(h)),
            monitored_period_days: Some(120),
        })
    }

    async fn verify_number(
        &self,
        phone: &E164,
        _proof: &DeviceProof,
    ) -> Result<NumberCheck, TelcoError> {
        Ok(match self.persona(phone.as_str()).map(|p| p.possession) {
            Some(Possession::NetworkVerified) => NumberCheck::Verified,
            Some(Possession::NetworkMismatch) => NumberCheck::NotVerified,
            _ => NumberCheck::Unavailable,
        })
    }

    async fn kyc_match(
        &self,
        phone: &E164,
        claims: &KycAttributes,
    ) -> Result<KycMatch, TelcoError> {
        let truth = match self.record(phone) {
            Ok(t) => Some(t),
            Err(TelcoError::NotApplicable(_)) => None,
            Err(e) => return Err(e),
        };
        let mut out = KycMatch::new();
        let mut put =
            |key: &str, claim: &Option<String>, truth: Option<&Option<String>>, text: bool| {
                if let Some(claim) = claim {
                    let r = match truth.and_then(|t| t.as_deref()) {
                        None => FieldMatch {
                            matched: Tri::NotAvailable,
                            score: None,
                        },
                        Some(t) if key == "idDocument" && claim.len() == 4 => {
                            exact_match(claim, &t[t.len().saturating_sub(4)..])
                        }
                        Some(t) if text => text_match(claim, t),
                        Some(t) => exact_match(claim, t),
                    };
                    out.insert(key.to_string(), r);
                }
            };
        let t = truth.as_ref();
        put(
            "givenName",
            &claims.given_name,
            t.map(|t| &t.given_name),
            true,
        );
        put(
            "familyName",
            &claims.family_name,
            t.map(|t| &t.family_name),
            true,
        );
        put("name", &claims.name, t.map(|t| &t.name), true);
        put("address", &claims.address, t.map(|t| &t.address), true);
        put(
            "postalCode",
            &claims.postal_code,
            t.map(|t| &t.postal_code),
            false,
        );
        put("locality", &claims.locality, t.map(|t| &t.locality), true);
        put("region", &claims.region, t.map(|t| &t.region), false);
        put(
            "birthdate",
            &claims.birthdate,
            t.map(|t| &t.birthdate),
            false,
        );
        put("email", &claims.email, t.map(|t| &t.email), false);
        put(
            "idDocument",
            &claims.id_document,
            t.map(|t| &t.id_document),
            false,
        );
        Ok(out)
    }

    async fn kyc_fill_in(&self, phone: &E164) -> Result<KycAttributes, TelcoError> {
        self.record(phone)
    }

    async fn age_verify(&self, phone: &E164, threshold: u8) -> Result<AgeCheck, TelcoError> {
        if threshold > 120 {
            return Err(TelcoError::Invalid("ageThreshold must be 0 to 120".into()));
        }
        let Ok(record) = self.record(phone) else {
            return Ok(AgeCheck {
                age_check: Tri::NotAvailable,
                verified_status: None,
                identity_match_score: None,
            });
        };
        let born = record
            .birthdate
            .as_deref()
            .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
        let age_check = match born {
            Some(b) => {
                let today = Utc::now().date_naive();
                let age = today.years_since(b).unwrap_or(0);
                if age >= u32::from(threshold) {
                    Tri::True
                } else {
                    Tri::False
                }
            }
            None => Tri::NotAvailable,
        };
        Ok(AgeCheck {
            age_check,
            verified_status: Some(true),
            identity_match_score: None,
        })
    }

    async fn reachability(&self, phone: &E164) -> Result<Reachability, TelcoError> {
        let p = self.persona(phone.as_str());
        let reachable = p.is_none_or(|p| p.reachable);
        let connectivity = match p {
            _ if !reachable => vec![],
            Some(p) if p.sms_only => vec!["SMS".to_string()],
            _ => vec!["DATA".to_string(), "SMS".to_string()],
        };
        Ok(Reachability {
            reachable,
            connectivity,
            last_status_time: Some(Utc::now()),
        })
    }
}

impl Sandbox {
    /// Whether possession completes by itself for this number.
    pub fn auto_possession(&self, phone: &str) -> bool {
        self.persona(phone)
            .is_some_and(|p| p.possession == Possession::Auto)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> E164 {
        E164::from_stored(s).expect("number")
    }

    #[tokio::test]
    async fn signals_follow_the_personas() {
        let s = Sandbox::default();
        assert!(s.sim_swap_check(&n("+12015550102"), 24).await.expect("ok"));
        assert!(!s.sim_swap_check(&n("+12015550106"), 24).await.expect("ok"));
        assert!(s.sim_swap_check(&n("+12015550106"), 240).await.expect("ok"));
        assert!(
            !s.reachability(&n("+12015550104"))
                .await
                .expect("ok")
                .reachable
        );
        assert_eq!(
            s.reachability(&n("+12015550106"))
                .await
                .expect("ok")
                .connectivity,
            ["SMS"]
        );
        assert!(matches!(
            s.kyc_fill_in(&n("+12015550105")).await,
            Err(TelcoError::NotApplicable(_))
        ));
        assert_eq!(
            s.verify_number(&n("+12015550108"), &DeviceProof::None)
                .await
                .expect("ok"),
            NumberCheck::Verified
        );
        assert_eq!(
            s.verify_number(&n("+14155550123"), &DeviceProof::None)
                .await
                .expect("ok"),
            NumberCheck::Unavailable
        );
        assert_eq!(
            s.age_verify(&n("+12015550110"), 18)
                .await
                .expect("ok")
                .age_check,
            Tri::False
        );
        assert!(s.auto_possession("+12001001695"));
        assert!(!s.auto_possession("+12015550100"));
    }

    #[tokio::test]
    async fn kyc_match_scores_fields() {
        let s = Sandbox::default();
        let claims = KycAttributes {
            given_name: Some("Avery".into()),
            family_name: Some("Quin".into()),
            birthdate: Some("1990-04-01".into()),
            id_document: Some("6789".into()),
            ..Default::default()
        };
        let m = s.kyc_match(&n("+12015550100"), &claims).await.expect("ok");
        assert_eq!(m["givenName"].matched, Tri::True);
        assert_eq!(m["familyName"].matched, Tri::False);
        assert!(m["familyName"].score.unwrap_or(0) >= 70);
        assert_eq!(m["birthdate"].matched, Tri::True);
        assert_eq!(m["idDocument"].matched, Tri::True);
        let none = s.kyc_match(&n("+12015550105"), &claims).await.expect("ok");
        assert!(none.values().all(|f| f.matched == Tri::NotAvailable));
        let changed = s.kyc_match(&n("+12015550103"), &claims).await.expect("ok");
        assert_eq!(changed["givenName"].matched, Tri::False);
    }

    #[test]
    fn every_persona_number_is_unique_and_well_formed() {
        let all = personas();
        let mut seen = std::collections::HashSet::new();
        for p in &all {
            assert!(seen.insert(p.e164), "duplicate {}", p.e164);
            assert!(E164::from_stored(p.e164).is_ok(), "{}", p.e164);
        }
    }
}
