//! The hosted page's texts in English and Portuguese. The page picks the language from
//! `?lang=` or else `Accept-Language` (by quality); the script gets the whole table as JSON
//! so that its messages (errors, prompts, results) come in the same language.

use serde_json::{Map, Value};

/// A language of the hosted page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// English.
    En,
    /// Portuguese.
    Pt,
}

impl Lang {
    /// The BCP 47 tag for `<html lang>`.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Pt => "pt",
        }
    }

    fn from_tag(tag: &str) -> Option<Lang> {
        let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "en" => Some(Lang::En),
            "pt" => Some(Lang::Pt),
            _ => None,
        }
    }

    /// `?lang=` first, then the best supported language of `Accept-Language`, else English.
    pub fn negotiate(query: Option<&str>, accept_language: Option<&str>) -> Lang {
        if let Some(lang) = query.and_then(Lang::from_tag) {
            return lang;
        }
        let mut offered: Vec<(f32, usize, Lang)> = accept_language
            .unwrap_or("")
            .split(',')
            .take(20)
            .enumerate()
            .filter_map(|(i, part)| {
                let mut it = part.split(';');
                let lang = Lang::from_tag(it.next()?)?;
                let q = it
                    .find_map(|p| p.trim().strip_prefix("q="))
                    .map_or(Some(1.0), |q| q.trim().parse::<f32>().ok())?;
                (q > 0.0).then_some((q, i, lang))
            })
            .collect();
        offered.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        offered.first().map_or(Lang::En, |o| o.2)
    }
}

/// (key, English, Portuguese).
const TEXTS: &[(&str, &str, &str)] = &[
    ("title", "Identity verification", "Verificação de identidade"),
    ("verifyingFor", "Verification for", "Verificação para"),
    ("consentTitle", "Before we start", "Antes de começar"),
    ("consentIntro", "To confirm that you are who you say you are, we will:", "Para confirmar que você é quem diz ser, vamos:"),
    ("consentSelfie", "take a few pictures of your face with your camera, to check that you are present and to compare your face with your document;", "tirar algumas fotos do seu rosto com a câmera, para confirmar que você está presente e comparar seu rosto com o documento;"),
    ("consentDocument", "read your identity document (passport, ID card or driver's licence).", "ler seu documento de identidade (passaporte, carteira de identidade ou carteira de motorista)."),
    ("consentPrivacy", "Pictures are analysed and then deleted; only the results are kept and shared with the organisation that asked for this verification.", "As fotos são analisadas e depois apagadas; apenas os resultados são guardados e compartilhados com a organização que pediu esta verificação."),
    ("consentAgree", "I agree to the processing of my face images and document for this verification.", "Concordo com o tratamento das imagens do meu rosto e do meu documento para esta verificação."),
    ("presencePurpose", "confirm that you are present, for:", "confirmar que você está presente, para:"),
    ("consentPresence", "take a few pictures of your face with your camera and compare it with your enrolled face;", "tirar algumas fotos do seu rosto com a câmera e compará-lo com o seu rosto cadastrado;"),
    ("err.liveness_failed", "We could not confirm a live person. Look at the camera, blink when asked, and try again.", "Não foi possível confirmar uma pessoa ao vivo. Olhe para a câmera, pisque quando pedido e tente novamente."),
    ("err.not_recognised", "We could not recognise you.", "Não conseguimos reconhecer você."),
    ("err.forbidden", "This request is for someone else.", "Este pedido é para outra pessoa."),
    ("continue", "Continue", "Continuar"),
    ("selfieTitle", "Take a selfie", "Tire uma selfie"),
    ("selfieIntro", "Hold your phone at eye level, in good light, with only your face in the frame. Follow the instructions on the screen.", "Segure o celular na altura dos olhos, com boa iluminação e apenas o seu rosto no quadro. Siga as instruções na tela."),
    ("startCamera", "Start camera", "Ligar câmera"),
    ("promptLook", "Look straight at the camera", "Olhe diretamente para a câmera"),
    ("promptBlink", "Blink slowly", "Pisque devagar"),
    ("promptTurn", "Turn your head slightly to one side", "Vire levemente a cabeça para um lado"),
    ("consentDigitalId", "receive the identity details you choose to share from your digital ID wallet, checked against its issuer's signature.", "receber os dados de identidade que você escolher compartilhar da sua carteira de identidade digital, verificados pela assinatura do emissor."),
    ("digitalIdTitle", "Your digital ID", "Sua identidade digital"),
    ("digitalIdIntro", "Share your identity from your digital ID wallet (a mobile driving licence or an EU Digital Identity Wallet). Only what is listed is asked for.", "Compartilhe sua identidade a partir da sua carteira de identidade digital. Só é pedido o que está listado."),
    ("digitalIdAsked", "Asked for:", "Pedido:"),
    ("digitalIdStart", "Use my digital ID", "Usar minha identidade digital"),
    ("digitalIdScan", "Scan this code with your wallet app, or open it on this device.", "Leia este código com o aplicativo da carteira, ou abra-o neste aparelho."),
    ("digitalIdOpen", "Open my wallet app", "Abrir o aplicativo da carteira"),
    ("digitalIdThisDevice", "Use a wallet on this device", "Usar uma carteira neste aparelho"),
    ("digitalIdWaiting", "Waiting for your wallet…", "Aguardando sua carteira…"),
    ("err.digital_id_unavailable", "Digital ID is not available for this verification.", "A identidade digital não está disponível para esta verificação."),
    ("err.session_expired_request", "The request to your wallet expired: start again.", "O pedido à sua carteira expirou: comece de novo."),
    ("err.digital_id_declined", "Your wallet did not share a digital ID.", "Sua carteira não compartilhou uma identidade digital."),
    ("documentTitle", "Your identity document", "Seu documento de identidade"),
    ("documentChoose", "Which document will you use?", "Qual documento você vai usar?"),
    ("docPassport", "Passport", "Passaporte"),
    ("docIdCard", "ID card", "Carteira de identidade"),
    ("docLicence", "Driver's licence", "Carteira de motorista"),
    ("documentFront", "Photograph the page with your photo, flat and filling the frame.", "Fotografe a página com a sua foto, plana e ocupando todo o quadro."),
    ("documentBack", "Now photograph the back, with the barcode.", "Agora fotografe o verso, com o código de barras."),
    ("takePhoto", "Take photo", "Tirar foto"),
    ("uploadInstead", "Upload a photo instead", "Enviar uma foto"),
    ("usePhoto", "Use this photo", "Usar esta foto"),
    ("retake", "Retake", "Tirar de novo"),
    ("checking", "Checking…", "Verificando…"),
    ("finishing", "Finishing your verification…", "Concluindo sua verificação…"),
    ("stepOf", "Step {n} of {total}", "Etapa {n} de {total}"),
    ("doneTitle", "All done", "Tudo pronto"),
    ("resultAPPROVED", "Your identity has been verified. You can close this page.", "Sua identidade foi verificada. Você pode fechar esta página."),
    ("resultREJECTED", "We could not verify your identity.", "Não foi possível verificar sua identidade."),
    ("resultREVIEW", "Thank you. Your verification is being reviewed; you will hear back soon.", "Obrigado. Sua verificação está em análise; você terá uma resposta em breve."),
    ("redirecting", "Taking you back…", "Redirecionando…"),
    ("tryAgain", "Try again", "Tentar novamente"),
    ("errorTitle", "Something went wrong", "Algo deu errado"),
    ("expiredTitle", "Link expired", "Link expirado"),
    ("cancelledTitle", "Verification cancelled", "Verificação cancelada"),
    ("completeTitle", "Verification complete", "Verificação concluída"),
    ("reviewTitle", "Under review", "Em análise"),
    ("notFoundTitle", "Link not found", "Link não encontrado"),
    ("err.session_expired", "This verification link has expired. Ask for a new one.", "Este link de verificação expirou. Peça um novo."),
    ("err.session_cancelled", "This verification was cancelled.", "Esta verificação foi cancelada."),
    ("err.already_complete", "This verification is complete. You can close this page.", "Esta verificação está concluída. Você pode fechar esta página."),
    ("err.awaiting_review", "Your verification is being reviewed; you will hear back soon.", "Sua verificação está em análise; você terá uma resposta em breve."),
    ("err.not_found", "This verification link is not valid.", "Este link de verificação não é válido."),
    ("err.camera_denied", "We need your camera to continue. Allow camera access in your browser's settings (the camera icon in the address bar), then try again.", "Precisamos da sua câmera para continuar. Permita o acesso à câmera nas configurações do navegador (o ícone de câmera na barra de endereço) e tente novamente."),
    ("err.camera_unavailable", "No camera could be started. Close other apps that use it, or use another device.", "Não foi possível ligar a câmera. Feche outros aplicativos que a usam ou use outro dispositivo."),
    ("err.no_face", "We could not see your face. Centre your face in the frame and try again.", "Não conseguimos ver seu rosto. Centralize o rosto no quadro e tente novamente."),
    ("err.several_faces", "More than one face is in the picture. Make sure only you are in the frame.", "Há mais de um rosto na imagem. Certifique-se de que apenas você esteja no quadro."),
    ("err.face_too_small", "Your face is too far away. Come closer to the camera.", "Seu rosto está muito longe. Aproxime-se da câmera."),
    ("err.too_dark", "The picture is too dark. Move to a brighter place and try again.", "A imagem está muito escura. Vá para um lugar mais iluminado e tente novamente."),
    ("err.too_blurry", "The picture is blurred. Hold still, clean the lens and try again.", "A imagem está desfocada. Fique parado, limpe a lente e tente novamente."),
    ("err.unreadable_image", "That picture could not be opened. Use a JPEG or PNG photo.", "Não foi possível abrir essa imagem. Use uma foto JPEG ou PNG."),
    ("err.document_unreadable", "We could not read your document. Photograph it flat, in good light, without glare, filling the frame.", "Não conseguimos ler seu documento. Fotografe-o plano, com boa iluminação, sem reflexos e ocupando todo o quadro."),
    ("err.rate_limited", "Too many attempts. Wait a minute and try again.", "Muitas tentativas. Aguarde um minuto e tente novamente."),
    ("err.payload_too_large", "That picture is too large. Use a smaller photo.", "Essa imagem é muito grande. Use uma foto menor."),
    ("err.network", "No connection to the server. Check your internet connection and try again.", "Sem conexão com o servidor. Verifique sua internet e tente novamente."),
    ("err.generic", "Something went wrong. Please try again.", "Algo deu errado. Tente novamente."),
];

/// One text in a language (the key itself when unknown).
pub fn text(lang: Lang, key: &str) -> &'static str {
    TEXTS
        .iter()
        .find(|t| t.0 == key)
        .map_or("", |t| if lang == Lang::Pt { t.2 } else { t.1 })
}

/// Every text of a language, for the page's script.
pub fn table(lang: Lang) -> Value {
    let mut m = Map::new();
    for (key, en, pt) in TEXTS {
        m.insert(
            (*key).into(),
            Value::from(if lang == Lang::Pt { *pt } else { *en }),
        );
    }
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_wins_then_accept_language_by_quality() {
        assert_eq!(Lang::negotiate(Some("pt"), Some("en")), Lang::Pt);
        assert_eq!(Lang::negotiate(Some("PT-br"), None), Lang::Pt);
        assert_eq!(Lang::negotiate(Some("fr"), Some("pt-BR")), Lang::Pt);
        assert_eq!(
            Lang::negotiate(None, Some("pt-BR,pt;q=0.9,en;q=0.8")),
            Lang::Pt
        );
        assert_eq!(
            Lang::negotiate(None, Some("fr, en;q=0.5, pt;q=0.7")),
            Lang::Pt
        );
        assert_eq!(Lang::negotiate(None, Some("en-GB,pt;q=0.9")), Lang::En);
        assert_eq!(Lang::negotiate(None, Some("pt;q=0, de")), Lang::En);
        assert_eq!(Lang::negotiate(None, Some("de")), Lang::En);
        assert_eq!(Lang::negotiate(None, None), Lang::En);
        assert_eq!(Lang::negotiate(None, Some(";;,q=,")), Lang::En);
    }

    #[test]
    fn every_text_is_translated_and_every_capture_error_has_one() {
        for (key, en, pt) in TEXTS {
            assert!(!en.is_empty() && !pt.is_empty(), "{key}");
        }
        for code in crate::analysis::CaptureError::CODES {
            assert!(!text(Lang::Pt, &format!("err.{code}")).is_empty(), "{code}");
        }
        let keys: std::collections::HashSet<_> = TEXTS.iter().map(|t| t.0).collect();
        assert_eq!(keys.len(), TEXTS.len(), "duplicate key");
    }
}
