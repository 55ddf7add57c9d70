//! The languages of the Snowball stemmers.

use serde::{Deserialize, Serialize};

/// A Snowball stemming algorithm (current Snowball, as PyStemmer 3 ships it).
///
/// Stored by name in index files, so an index records which stemmer built it.
///
/// ```
/// use slm_rag::{Language, Stemming, TextAnalyzer};
/// let french = TextAnalyzer::plain().with_stemming(Stemming::Snowball(Language::French));
/// assert_eq!(french.terms("continuellement"), vec!["continuel"]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Language {
    /// Arabic.
    Arabic,
    /// Armenian.
    Armenian,
    /// Basque.
    Basque,
    /// Catalan.
    Catalan,
    /// Czech.
    Czech,
    /// Danish.
    Danish,
    /// Dutch.
    Dutch,
    /// English (Porter2, the Snowball English stemmer).
    English,
    /// Esperanto.
    Esperanto,
    /// Estonian.
    Estonian,
    /// Finnish.
    Finnish,
    /// French.
    French,
    /// German.
    German,
    /// Greek.
    Greek,
    /// Hindi.
    Hindi,
    /// Hungarian.
    Hungarian,
    /// Indonesian.
    Indonesian,
    /// Irish.
    Irish,
    /// Italian.
    Italian,
    /// Lithuanian.
    Lithuanian,
    /// Nepali.
    Nepali,
    /// Norwegian.
    Norwegian,
    /// Persian.
    Persian,
    /// Polish.
    Polish,
    /// The original Porter stemmer for English (Lucene's `PorterStemFilter`).
    Porter,
    /// Portuguese.
    Portuguese,
    /// Romanian.
    Romanian,
    /// Russian.
    Russian,
    /// Serbian.
    Serbian,
    /// Spanish.
    Spanish,
    /// Swedish.
    Swedish,
    /// Tamil.
    Tamil,
    /// Turkish.
    Turkish,
    /// Yiddish.
    Yiddish,
}

impl Language {
    pub(crate) fn algorithm(self) -> frostem::Algorithm {
        use frostem::Algorithm as A;
        match self {
            Language::Arabic => A::Arabic,
            Language::Armenian => A::Armenian,
            Language::Basque => A::Basque,
            Language::Catalan => A::Catalan,
            Language::Czech => A::Czech,
            Language::Danish => A::Danish,
            Language::Dutch => A::Dutch,
            Language::English => A::English,
            Language::Esperanto => A::Esperanto,
            Language::Estonian => A::Estonian,
            Language::Finnish => A::Finnish,
            Language::French => A::French,
            Language::German => A::German,
            Language::Greek => A::Greek,
            Language::Hindi => A::Hindi,
            Language::Hungarian => A::Hungarian,
            Language::Indonesian => A::Indonesian,
            Language::Irish => A::Irish,
            Language::Italian => A::Italian,
            Language::Lithuanian => A::Lithuanian,
            Language::Nepali => A::Nepali,
            Language::Norwegian => A::Norwegian,
            Language::Persian => A::Persian,
            Language::Polish => A::Polish,
            Language::Porter => A::Porter,
            Language::Portuguese => A::Portuguese,
            Language::Romanian => A::Romanian,
            Language::Russian => A::Russian,
            Language::Serbian => A::Serbian,
            Language::Spanish => A::Spanish,
            Language::Swedish => A::Swedish,
            Language::Tamil => A::Tamil,
            Language::Turkish => A::Turkish,
            Language::Yiddish => A::Yiddish,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_language_stems_without_panicking() {
        let all = [
            Language::Arabic,
            Language::Armenian,
            Language::Basque,
            Language::Catalan,
            Language::Czech,
            Language::Danish,
            Language::Dutch,
            Language::English,
            Language::Esperanto,
            Language::Estonian,
            Language::Finnish,
            Language::French,
            Language::German,
            Language::Greek,
            Language::Hindi,
            Language::Hungarian,
            Language::Indonesian,
            Language::Irish,
            Language::Italian,
            Language::Lithuanian,
            Language::Nepali,
            Language::Norwegian,
            Language::Persian,
            Language::Polish,
            Language::Porter,
            Language::Portuguese,
            Language::Romanian,
            Language::Russian,
            Language::Serbian,
            Language::Spanish,
            Language::Swedish,
            Language::Tamil,
            Language::Turkish,
            Language::Yiddish,
        ];
        for language in all {
            let stemmer = frostem::Stemmer::new(language.algorithm());
            for word in ["", "a", "running", "москва", "東京", "قاهرة", "ünïcödé"]
            {
                let _ = stemmer.stem(word);
            }
        }
        let porter = frostem::Stemmer::new(Language::Porter.algorithm());
        assert_eq!(porter.stem("generalization"), "gener");
    }
}
