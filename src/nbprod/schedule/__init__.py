"""A pipeline as a scheduled job on one machine: a crontab line or a systemd user timer.

Why its own package: what the job needs in cron's bare environment (absolute paths, the
project's folder, settings from ``.nbprod.env``, a log file, the build lock) is the same for
both schedulers, and nothing here runs a build: it writes the line or the units that do.

``job`` the /bin/sh command line both run; ``envfile`` ``.nbprod.env``; ``cron`` the crontab
line and the user's crontab; ``systemd`` the .service/.timer pair; ``manage`` what each
``nbprod schedule`` command does.
"""
