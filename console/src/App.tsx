import { useEffect, useRef, useState } from "react";
import { NavLink, Navigate, Route, Routes, useLocation, useNavigate } from "react-router-dom";
import { session } from "./api/session";
import { useI18n } from "./i18n";
import { Consent } from "./pages/Consent";
import { Jobs } from "./pages/Jobs";
import { Keys } from "./pages/Keys";
import { Overview } from "./pages/Overview";
import { OwnerPortal } from "./pages/OwnerPortal";
import { SignIn } from "./pages/SignIn";
import { Speak } from "./pages/Speak";
import { Voices } from "./pages/Voices";
import { Watermark } from "./pages/Watermark";
import { MeProvider } from "./me";

export function LanguageSwitch() {
  const { lang, setLang, t } = useI18n();
  return (
    <button type="button" className="link" lang={lang === "th" ? "en" : "th"} onClick={() => setLang(lang === "th" ? "en" : "th")}>
      {t("lang.switch")}
    </button>
  );
}

export function App() {
  const location = useLocation();
  if (location.pathname.startsWith("/owner/")) {
    return (
      <Routes>
        <Route path="/owner/:token" element={<OwnerPortal />} />
      </Routes>
    );
  }
  return <TenantConsole />;
}

function TenantConsole() {
  const { t } = useI18n();
  const navigate = useNavigate();
  const location = useLocation();
  const [signedIn, setSignedIn] = useState(() => Boolean(session.get()));
  const main = useRef<HTMLElement>(null);
  // A page change moves focus to the page's heading region, as a screen reader user expects.
  useEffect(() => {
    main.current?.focus();
  }, [location.pathname]);

  if (!signedIn) return <SignIn onSignedIn={() => setSignedIn(true)} />;

  const signOut = () => {
    session.clear();
    setSignedIn(false);
    navigate("/");
  };
  const links: [string, Parameters<typeof t>[0]][] = [
    ["/", "nav.overview"],
    ["/voices", "nav.voices"],
    ["/speak", "nav.speak"],
    ["/jobs", "nav.jobs"],
    ["/keys", "nav.keys"],
    ["/watermark", "nav.watermark"],
  ];
  return (
    <MeProvider onUnauthorized={signOut}>
      <a className="skip" href="#main">
        {t("app.skip")}
      </a>
      <header className="topbar">
        <span className="brand">
          {t("app.name")} <span className="muted">{t("app.console")}</span>
        </span>
        <nav aria-label={t("nav.label")}>
          <ul>
            {links.map(([to, key]) => (
              <li key={to}>
                <NavLink to={to} end={to === "/"}>
                  {t(key)}
                </NavLink>
              </li>
            ))}
          </ul>
        </nav>
        <div className="topbar-end">
          <LanguageSwitch />
          <button type="button" className="secondary" onClick={signOut}>
            {t("nav.signOut")}
          </button>
        </div>
      </header>
      <main id="main" ref={main} tabIndex={-1}>
        <Routes>
          <Route path="/" element={<Overview />} />
          <Route path="/voices" element={<Voices />} />
          <Route path="/voices/:voiceId/consent" element={<Consent />} />
          <Route path="/speak" element={<Speak />} />
          <Route path="/jobs" element={<Jobs />} />
          <Route path="/keys" element={<Keys />} />
          <Route path="/watermark" element={<Watermark />} />
          <Route path="*" element={<Navigate to="/" replace />} />
        </Routes>
      </main>
    </MeProvider>
  );
}
