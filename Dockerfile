# The image docker-compose.yml runs for app hosts, render workers and the migration (README "Printing").
FROM python:3.11-slim
# WeasyPrint's libraries and the sheets' fonts: RUN_PACKAGES in the Makefile, less python3-venv.
RUN apt-get update && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b \
        libharfbuzz-subset0 fontconfig fonts-dejavu-core && rm -rf /var/lib/apt/lists/*
RUN useradd --create-home rehab && mkdir -p /var/lib/rehab/sheet-cache && chown rehab /var/lib/rehab/sheet-cache
WORKDIR /srv/rehab
COPY . .
RUN pip install --no-cache-dir -e '.[serve]' && pybabel compile -d rehab/translations -D messages
USER rehab
