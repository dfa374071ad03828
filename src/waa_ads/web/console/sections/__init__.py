"""The console's areas: each module here has a ``router`` (paths relative to ``/console``)
and is mounted by :func:`waa_ads.web.console.router.install_console`."""
