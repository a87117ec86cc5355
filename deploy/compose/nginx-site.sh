#!/bin/sh
# compose.yaml's nginx: renders deploy/nginx/cyoa.conf for the containers
# (the instances cyoa1 and cyoa2, plain HTTP on port 8080, as the test
# suite's variant: TLS belongs to whatever fronts the host) and runs nginx.
set -eu
sed -e 's/__SERVER_NAME__/_/' \
    -e 's/__UPSTREAMS__/server cyoa1:8080 max_fails=0; server cyoa2:8080 max_fails=0;/' \
    -e 's#__STATIC_DIR__#/srv/cyoa/static#' \
    -e 's#__ACME_ROOT__#/var/www/acme#' \
    -e 's/listen 443 ssl http2;/listen 8080;/' \
    -e '/listen \[::\]/d' \
    -e '/ssl_certificate/d' \
    /srv/cyoa/cyoa.conf >/etc/nginx/conf.d/default.conf
exec nginx -g 'daemon off;'
