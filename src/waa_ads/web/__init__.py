"""The candidate's player: static HTML, JavaScript modules and CSS served by the app."""
