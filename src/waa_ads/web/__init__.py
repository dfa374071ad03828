"""Pages people use in the browser: the candidate's player (static HTML, JavaScript modules
and CSS served by the app). Pages call the domains' services; no domain imports ``web``."""
