# nginx (Debian's nginx-light, master and two workers: epoll, accept, sendfile, setuid to
# www-data) serving files to curl over IPv4 and IPv6 loopback: a small page, 256 KiB checked
# by its digest, a 404, HEAD, keep-alive (two URLs on one connection), then a graceful quit.
chmod 755 .  # the case directory (mktemp -d) is 0700; the workers run as nobody
mkdir -p www/sub
echo "hello from nginx" > www/index.html
head -c 262144 /dev/zero | tr '\0' 'x' > www/sub/big.bin
chmod -R a+rX www
cat > nginx.conf <<C
worker_processes 2;
pid $PWD/nginx.pid;
error_log $PWD/error.log;
events { worker_connections 64; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_timeout 5;
  types { text/html html; application/octet-stream bin; }
  client_body_temp_path $PWD/tmp;
  proxy_temp_path $PWD/tmp;
  fastcgi_temp_path $PWD/tmp;
  server {
    listen 127.0.0.1:18080;
    listen [::1]:18080;
    root $PWD/www;
  }
}
C
mkdir tmp
nginx -c "$PWD/nginx.conf" -e "$PWD/error.log" || { echo "nginx failed"; cat error.log; exit 1; }
for i in $(seq 50); do [ -s nginx.pid ] && curl -s -o /dev/null http://127.0.0.1:18080/ && break; sleep 0.1; done
curl -s http://127.0.0.1:18080/
curl -s -g 'http://[::1]:18080/index.html'
curl -s http://127.0.0.1:18080/sub/big.bin | md5sum
curl -s -g 'http://[::1]:18080/sub/big.bin' | wc -c
curl -s -o /dev/null -w '%{http_code}\n' http://127.0.0.1:18080/missing
curl -s -I http://127.0.0.1:18080/index.html | grep -i -E '^(HTTP|content-length|content-type)' | tr -d '\r'
curl -s -w '%{num_connects}\n' http://127.0.0.1:18080/ http://127.0.0.1:18080/index.html
ps -o user= -C nginx | sort | uniq -c | sed 's/^ *//'
kill -QUIT "$(cat nginx.pid)"
for i in $(seq 50); do [ -e nginx.pid ] || break; sleep 0.1; done
[ -e nginx.pid ] && echo "nginx still running"
# What nginx logged, without times, pids and the case directory: the 404's "No such file".
sed -E 's/^[0-9/]+ [0-9:]+ //; s/[0-9]+#[0-9]+: \*[0-9]+ //; s#/tmp/case\.[^/]*#CASE#; s/, client.*//' error.log |
  grep -v -E 'notice|signal process started'
exit 0
