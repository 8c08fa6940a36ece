//! The names a generated organization is made of.

pub(super) const COMPANIES: &[&str] = &[
    "Northwind Cloud",
    "Globex Infrastructure",
    "Initech Platform",
    "Umbrella Data GmbH",
    "Société Générale des Nuages",
    "Hooli XYZ",
];

pub(super) const GIVEN: &[&str] = &[
    "Ann",
    "José",
    "Zoë",
    "Jürgen",
    "Siobhán",
    "Chloé",
    "Mikael",
    "Priya",
    "Wei",
    "Olúwaseun",
    "Björn",
    "Fatima",
    "Noah",
    "Émile",
    "Hana",
    "Łukasz",
    "Søren",
    "Aiko",
    "Mateo",
    "Grace",
    "Dmitri",
    "Amara",
    "Kenji",
    "Inês",
    "Rafael",
    "Leila",
    "Tomás",
    "Ngozi",
    "Yusuf",
    "Ingrid",
    "Sarah",
    "David",
    "Maria",
    "James",
    "Li",
    "Olga",
];

pub(super) const FAMILY: &[&str] = &[
    "Smith",
    "Müller",
    "García",
    "O'Brien",
    "Nguyễn",
    "Kowalski",
    "Øvergaard",
    "Dubois",
    "Rossi",
    "Tanaka",
    "Okafor",
    "Haddad",
    "Fernández",
    "Schröder",
    "Lindqvist",
    "Patel",
    "Kim",
    "Cohen",
    "Novák",
    "Silva",
    "van der Berg",
    "Çelik",
    "Åberg",
    "Johnson",
];

/// Names that stress encodings and display logic: (given, family, display).
pub(super) const SPECIAL_NAMES: &[(&str, &str, &str)] = &[
    ("太郎", "日本", "日本 太郎"),
    ("Ольга", "Смирнова", "Ольга Смирнова"),
    ("Ava", "Rocket", "Ava 🚀 Rocket"),
    ("سارة", "حداد", "سارة حداد"),
    ("Zoë", "Ünal-Ørsted", "Dr. Zoë Ünal-Ørsted, PhD"),
    ("민준", "김", "김민준"),
];

pub(super) const DOMAINS: &[&str] = &["example.com", "example.io", "contractors.example.net"];

pub(super) const KEY_NAMES: &[&str] = &[
    "terraform-ci",
    "github-actions",
    "backstage",
    "atlantis",
    "drift-detector",
    "cost-report",
    "🚀 deploy bot",
    "Ключ мониторинга",
    "jenkins (legacy)",
    "nightly-cleanup",
];

pub(super) const TEAM_NAMES: &[&str] = &[
    "platform",
    "sre",
    "data",
    "frontend",
    "payments",
    "security",
    "Équipe Paris",
    "東京チーム",
    "🔥 on-call",
    "mobile",
];

pub(super) const PROJECT_NAMES: &[&str] = &[
    "production",
    "staging",
    "sandbox",
    "networking",
    "data-lake",
    "Küche & Bad",
    "shared-services",
];

pub(super) const PROJECT_ROLES: &[&str] = &["Admin", "Deployer", "Planner", "Viewer"];
