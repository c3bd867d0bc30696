//! AAMVA DL/ID card design standard records (versions 9 and 10) and their PDF417 symbols.

use anyhow::{anyhow, Result};
use chrono::NaiveDate;
use rxing::{BarcodeFormat, EncodeHints, Writer};

use crate::identity::Sex;

/// US jurisdictions with their AAMVA issuer identification numbers.
pub const STATES: &[(&str, &str, &str)] = &[
    ("CA", "CALIFORNIA", "636014"),
    ("NY", "NEW YORK", "636001"),
    ("TX", "TEXAS", "636015"),
    ("FL", "FLORIDA", "636010"),
    ("VA", "VIRGINIA", "636000"),
    ("PA", "PENNSYLVANIA", "636025"),
    ("IL", "ILLINOIS", "636035"),
    ("WA", "WASHINGTON", "636045"),
    ("MA", "MASSACHUSETTS", "636002"),
    ("CO", "COLORADO", "636020"),
    ("AZ", "ARIZONA", "636026"),
    ("GA", "GEORGIA", "636055"),
];

/// The fields of one driver's licence.
#[derive(Clone, Debug)]
pub struct Licence {
    /// Index into [`STATES`].
    pub state: usize,
    /// AAMVA version: 9 or 10.
    pub version: u8,
    pub jurisdiction_version: u8,
    /// `DAQ`, the customer id (licence number).
    pub number: String,
    pub surname: String,
    pub first_name: String,
    /// Middle names; empty is written as `NONE`.
    pub middle_names: String,
    pub sex: Sex,
    pub birth: NaiveDate,
    pub issue: NaiveDate,
    pub expiry: NaiveDate,
    pub street: String,
    pub city: String,
    pub postal_code: String,
    pub height_in: u32,
    pub eyes: &'static str,
    pub discriminator: String,
}

impl Licence {
    pub fn state_code(&self) -> &'static str {
        STATES[self.state].0
    }

    pub fn state_name(&self) -> &'static str {
        STATES[self.state].1
    }

    pub fn iin(&self) -> &'static str {
        STATES[self.state].2
    }

    /// The given names as the record carries them (first and middle, `NONE` left out).
    pub fn given_names(&self) -> String {
        if self.middle_names.is_empty() {
            self.first_name.clone()
        } else {
            format!("{} {}", self.first_name, self.middle_names)
        }
    }

    /// The whole file: header, one subfile designator and the DL subfile.
    pub fn record(&self) -> String {
        let mmddccyy = |d: NaiveDate| d.format("%m%d%Y").to_string();
        let middle = if self.middle_names.is_empty() {
            "NONE".to_string()
        } else {
            self.middle_names.clone()
        };
        let elements: Vec<(&str, String)> = vec![
            ("DAQ", self.number.clone()),
            ("DCA", "C".into()),
            ("DCB", "NONE".into()),
            ("DCD", "NONE".into()),
            ("DBA", mmddccyy(self.expiry)),
            ("DCS", self.surname.clone()),
            ("DAC", self.first_name.clone()),
            ("DAD", middle),
            ("DBD", mmddccyy(self.issue)),
            ("DBB", mmddccyy(self.birth)),
            ("DBC", self.sex.aamva().to_string()),
            ("DAY", self.eyes.into()),
            ("DAU", format!("{:03} IN", self.height_in)),
            ("DAG", self.street.clone()),
            ("DAI", self.city.clone()),
            ("DAJ", self.state_code().into()),
            ("DAK", format!("{:<11}", self.postal_code)),
            ("DCF", self.discriminator.clone()),
            ("DCG", "USA".into()),
            ("DDE", "N".into()),
            ("DDF", "N".into()),
            ("DDG", "N".into()),
        ];
        let body: Vec<String> = elements.iter().map(|(k, v)| format!("{k}{v}")).collect();
        let subfile = format!("DL{}\r", body.join("\n"));
        // Header is 21 bytes and each subfile designator 10, so the one subfile starts at 31.
        let header = format!(
            "@\n\x1e\rANSI {}{:02}{:02}01DL{:04}{:04}",
            self.iin(),
            self.version,
            self.jurisdiction_version,
            31,
            subfile.len()
        );
        format!("{header}{subfile}")
    }
}

/// Encodes `data` as PDF417 (error correction level 5, as AAMVA recommends at least 3) and
/// returns the module grid as rows of booleans (true = dark), each row one module tall.
pub fn pdf417(data: &str) -> Result<Vec<Vec<bool>>> {
    let hints = EncodeHints {
        ErrorCorrection: Some("5".into()),
        Margin: Some("0".into()),
        Pdf417Dimensions: Some(rxing::pdf417::encoder::Dimensions::new(8, 13, 3, 90)),
        ..EncodeHints::default()
    };
    let m = rxing::pdf417::PDF417Writer
        .encode_with_hints(data, &BarcodeFormat::PDF_417, 0, 0, &hints)
        .map_err(|e| anyhow!("PDF417 encoding failed: {e}"))?;
    // The writer draws each row four pixels tall (aspect 4); keep one of each four.
    let (w, h) = (m.getWidth(), m.getHeight());
    Ok((0..h)
        .step_by(4)
        .map(|y| (0..w).map(|x| m.get(x, y)).collect())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::ymd;

    fn sample() -> Licence {
        Licence {
            state: 0,
            version: 10,
            jurisdiction_version: 1,
            number: "D1234567".into(),
            surname: "DE LA CRUZ".into(),
            first_name: "MARIA".into(),
            middle_names: String::new(),
            sex: Sex::F,
            birth: ymd(1985, 3, 9),
            issue: ymd(2021, 6, 1),
            expiry: ymd(2029, 3, 9),
            street: "12 MAIN ST".into(),
            city: "SACRAMENTO".into(),
            postal_code: "958140000".into(),
            height_in: 65,
            eyes: "BRO",
            discriminator: "ABC123".into(),
        }
    }

    #[test]
    fn header_offsets_and_lengths_are_consistent() {
        let r = sample().record();
        assert!(r.starts_with("@\n\x1e\rANSI 636014100101DL0031"));
        let len: usize = r[27..31].parse().expect("length");
        assert_eq!(&r[31..33], "DL");
        assert_eq!(r.len(), 31 + len);
        assert!(r.ends_with('\r'));
        assert!(
            r.contains("\nDBB03091985\n") && r.contains("\nDADNONE\n") && r.contains("\nDBC2\n")
        );
    }

    #[test]
    fn pdf417_round_trips_through_rxing() {
        let record = sample().record();
        let grid = pdf417(&record).expect("encodes");
        // Render 3 px per module, rows 9 px tall, with a quiet zone.
        let (q, mw, mh) = (20usize, 3usize, 9usize);
        let w = grid[0].len() * mw + 2 * q;
        let h = grid.len() * mh + 2 * q;
        let mut luma = vec![255u8; w * h];
        for (r, row) in grid.iter().enumerate() {
            for (c, &dark) in row.iter().enumerate() {
                if dark {
                    for y in 0..mh {
                        for x in 0..mw {
                            luma[(q + r * mh + y) * w + q + c * mw + x] = 0;
                        }
                    }
                }
            }
        }
        let res =
            rxing::helpers::detect_in_luma(luma, w as u32, h as u32, Some(BarcodeFormat::PDF_417))
                .expect("decodes");
        assert_eq!(res.getText(), record);
    }
}
