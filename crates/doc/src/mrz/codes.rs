//! Issuing state and nationality codes: ISO 3166-1 alpha-3 plus the codes ICAO 9303 Part 3
//! §5 adds (Germany's `D`, British nationality classes, United Nations, refugees and
//! stateless persons, international organisations).

/// Sorted (byte order), so that `is_known_code` can binary-search it. `UTO` (Utopia, the
/// fictional state of the ICAO specimens) is deliberately absent: a real document never
/// carries it.
static CODES: &[&str] = &[
    "ABW", "AFG", "AGO", "AIA", "ALA", "ALB", "AND", "ARE", "ARG", "ARM", "ASM", "ATA", "ATF",
    "ATG", "AUS", "AUT", "AZE", "BDI", "BEL", "BEN", "BES", "BFA", "BGD", "BGR", "BHR", "BHS",
    "BIH", "BLM", "BLR", "BLZ", "BMU", "BOL", "BRA", "BRB", "BRN", "BTN", "BVT", "BWA", "CAF",
    "CAN", "CCK", "CHE", "CHL", "CHN", "CIV", "CMR", "COD", "COG", "COK", "COL", "COM", "CPV",
    "CRI", "CUB", "CUW", "CXR", "CYM", "CYP", "CZE", //
    "D",   // Germany: ICAO's one-letter code, what German documents print
    "DEU", "DJI", "DMA", "DNK", "DOM", "DZA", "ECU", "EGY", "ERI", "ESH", "ESP", "EST", "ETH",
    "EUE", // European Union
    "FIN", "FJI", "FLK", "FRA", "FRO", "FSM", "GAB", //
    "GBD", // British Overseas Territories Citizen
    "GBN", // British National (Overseas)
    "GBO", // British Overseas Citizen
    "GBP", // British Protected Person
    "GBR", //
    "GBS", // British Subject
    "GEO", "GGY", "GHA", "GIB", "GIN", "GLP", "GMB", "GNB", "GNQ", "GRC", "GRD", "GRL", "GTM",
    "GUF", "GUM", "GUY", "HKG", "HMD", "HND", "HRV", "HTI", "HUN", "IDN", "IMN", "IND", "IOT",
    "IRL", "IRN", "IRQ", "ISL", "ISR", "ITA", "JAM", "JEY", "JOR", "JPN", "KAZ", "KEN", "KGZ",
    "KHM", "KIR", "KNA", "KOR", "KWT", "LAO", "LBN", "LBR", "LBY", "LCA", "LIE", "LKA", "LSO",
    "LTU", "LUX", "LVA", "MAC", "MAF", "MAR", "MCO", "MDA", "MDG", "MDV", "MEX", "MHL", "MKD",
    "MLI", "MLT", "MMR", "MNE", "MNG", "MNP", "MOZ", "MRT", "MSR", "MTQ", "MUS", "MWI", "MYS",
    "MYT", "NAM", "NCL", "NER", "NFK", "NGA", "NIC", "NIU", "NLD", "NOR", "NPL", "NRU", "NZL",
    "OMN", "PAK", "PAN", "PCN", "PER", "PHL", "PLW", "PNG", "POL", "PRI", "PRK", "PRT", "PRY",
    "PSE", "PYF", "QAT", "REU", //
    "RKS", // Kosovo (ICAO code)
    "ROU", "RUS", "RWA", "SAU", "SDN", "SEN", "SGP", "SGS", "SHN", "SJM", "SLB", "SLE", "SLV",
    "SMR", "SOM", "SPM", "SRB", "SSD", "STP", "SUR", "SVK", "SVN", "SWE", "SWZ", "SXM", "SYC",
    "SYR", "TCA", "TCD", "TGO", "THA", "TJK", "TKL", "TKM", "TLS", "TON", "TTO", "TUN", "TUR",
    "TUV", "TWN", "TZA", "UGA", "UKR", "UMI", //
    "UNA", // a specialized agency of the United Nations
    "UNK", // resident of Kosovo, document issued by UNMIK
    "UNO", // United Nations Organization
    "URY", "USA", "UZB", "VAT", "VCT", "VEN", "VGB", "VIR", "VNM", "VUT", "WLF", "WSM", //
    "XBA", // African Development Bank
    "XCC", // Caribbean Community (CARICOM)
    "XCE", // Council of Europe
    "XCO", // Common Market for Eastern and Southern Africa (COMESA)
    "XDC", // Southern African Development Community
    "XEC", // Economic Community of West African States (ECOWAS)
    "XES", // Organisation of Eastern Caribbean States
    "XIM", // African Export-Import Bank
    "XKX", // Kosovo (user-assigned code some states and the EU use)
    "XMP", // Parliamentary Assembly of the Mediterranean
    "XOM", // Sovereign Military Order of Malta
    "XPO", // INTERPOL
    "XXA", // stateless person (1954 Convention)
    "XXB", // refugee (1951 Convention)
    "XXC", // refugee, other
    "XXX", // person of unspecified nationality
    "YEM", "ZAF", "ZMB", "ZWE",
];

/// Whether `code` is a known issuing-state or nationality code: ISO 3166-1 alpha-3 or one of
/// ICAO 9303's own codes (`D`, `EUE`, `GBD`, `GBN`, `GBO`, `GBP`, `GBS`, `RKS`, `UNA`,
/// `UNK`, `UNO`, `XBA`, `XCC`, `XCE`, `XCO`, `XDC`, `XEC`, `XES`, `XIM`, `XKX`, `XMP`, `XOM`,
/// `XPO`, `XXA`, `XXB`, `XXC`, `XXX`). Give it without filler (`"D"`, not `"D<<"`).
/// `UTO`, the ICAO specimens' fictional Utopia, is not known.
pub fn is_known_code(code: &str) -> bool {
    CODES.binary_search(&code).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_unique() {
        assert!(
            CODES.windows(2).all(|w| w[0] < w[1]),
            "CODES must be strictly sorted"
        );
    }

    #[test]
    fn table_holds_every_iso_code_and_the_icao_extras() {
        let iso = CODES.iter().filter(|c| c.len() == 3).count();
        // 249 ISO 3166-1 alpha-3 codes + 26 three-letter ICAO / user-assigned codes.
        assert_eq!(iso, 249 + 26);
        for c in [
            "D", "DEU", "GBD", "UNO", "XXA", "XXX", "EUE", "RKS", "XOM", "USA", "NLD",
        ] {
            assert!(is_known_code(c), "{c}");
        }
        for c in ["UTO", "D<<", "", "de", "DE", "XYZ"] {
            assert!(!is_known_code(c), "{c}");
        }
    }
}
