"""Prepares what octaviatest's Octavia needs and can share between runs.

Run by Debian's /usr/bin/python3 (the interpreter of the octavia packages) as
    prepare.py <dir> <ca-passphrase>
it writes into <dir>:
  octavia.db  an SQLite database with Octavia's schema, created from its SQLAlchemy
              models (alembic's migrations cannot ALTER constraints on SQLite), the
              lookup tables filled from octavia.common.constants and the
              DELETED-PLACEHOLDER flavor and availability zone rows, as Octavia's own
              functional tests seed them (octavia/tests/functional/db/base.py);
  ca.pem      a CA certificate, ca.key its private key, encrypted with the passphrase
              (Octavia's local certificate generator refuses an unencrypted one);
  client.pem  a client certificate signed by the CA, with its key.
"""

import datetime
import os
import sqlite3
import sys
import warnings


def make_db(path):
    warnings.simplefilter("ignore")  # SQLAlchemy's overlapping-relationship warnings
    import sqlalchemy
    from octavia.common import constants
    from octavia.db import base_models
    from octavia.db import models  # noqa: F401  registers every table

    engine = sqlalchemy.create_engine("sqlite:///" + path)
    meta = base_models.BASE.metadata
    meta.create_all(engine)
    lookups = {
        "provisioning_status": constants.SUPPORTED_PROVISIONING_STATUSES,
        "operating_status": constants.SUPPORTED_OPERATING_STATUSES,
        "health_monitor_type": constants.SUPPORTED_HEALTH_MONITOR_TYPES,
        "algorithm": constants.SUPPORTED_LB_ALGORITHMS,
        "protocol": constants.SUPPORTED_PROTOCOLS,
        "session_persistence_type": constants.SUPPORTED_SP_TYPES,
        "amphora_roles": constants.SUPPORTED_AMPHORA_ROLES,
        "lb_topology": constants.SUPPORTED_LB_TOPOLOGIES,
        "vrrp_auth_method": constants.SUPPORTED_VRRP_AUTH,
        "l7rule_type": constants.SUPPORTED_L7RULE_TYPES,
        "l7rule_compare_type": constants.SUPPORTED_L7RULE_COMPARE_TYPES,
        "l7policy_action": constants.SUPPORTED_L7POLICY_ACTIONS,
        "client_authentication_mode": constants.SUPPORTED_CLIENT_AUTH_MODES,
    }
    nil = constants.NIL_UUID
    with engine.begin() as conn:
        for table, names in lookups.items():
            conn.execute(meta.tables[table].insert(), [{"name": n} for n in sorted(set(names))])
        conn.execute(meta.tables["flavor_profile"].insert(), [{
            "id": nil, "name": "DELETED-PLACEHOLDER",
            "provider_name": constants.DELETED, "flavor_data": "{}"}])
        conn.execute(meta.tables["flavor"].insert(), [{
            "id": nil, "name": "DELETED-PLACEHOLDER", "enabled": False,
            "flavor_profile_id": nil,
            "description": "Placeholder for DELETED LBs with DELETED flavors"}])
        conn.execute(meta.tables["availability_zone_profile"].insert(), [{
            "id": nil, "name": "DELETED-PLACEHOLDER",
            "provider_name": constants.DELETED, "availability_zone_data": "{}"}])
        conn.execute(meta.tables["availability_zone"].insert(), [{
            "name": nil, "enabled": False, "availability_zone_profile_id": nil,
            "description": "Placeholder for DELETED LBs with DELETED availability zones"}])
    engine.dispose()
    # WAL lets the API, the worker and a test's status writes share the file; the mode
    # is kept in the file, whose copies therefore start in it too.
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def make_certs(out, passphrase):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=1)
    until = now + datetime.timedelta(days=3650)

    def name(cn):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca = (x509.CertificateBuilder()
          .subject_name(name("drover octaviatest CA")).issuer_name(name("drover octaviatest CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now).not_valid_after(until)
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    client_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    client = (x509.CertificateBuilder()
              .subject_name(name("drover octaviatest client")).issuer_name(ca.subject)
              .public_key(client_key.public_key()).serial_number(x509.random_serial_number())
              .not_valid_before(now).not_valid_after(until)
              .sign(ca_key, hashes.SHA256()))

    pem = serialization.Encoding.PEM
    with open(os.path.join(out, "ca.pem"), "wb") as f:
        f.write(ca.public_bytes(pem))
    with open(os.path.join(out, "ca.key"), "wb") as f:
        f.write(ca_key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(passphrase.encode())))
    with open(os.path.join(out, "client.pem"), "wb") as f:
        f.write(client.public_bytes(pem))
        f.write(client_key.private_bytes(
            pem, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()))


def main():
    out, passphrase = sys.argv[1], sys.argv[2]
    make_certs(out, passphrase)
    make_db(os.path.join(out, "octavia.db"))


if __name__ == "__main__":
    main()
