"""Email to and from customers: SMTP delivery (`smtp`), the message we send (`compose`), and
the customer's replies coming back (`inbound`: parsing and the signed HTTP endpoint).

Only the shell talks to mail servers; what an email says and how a reply is matched and
stripped is decided in `playbook.domain.mail`.
"""
