-- An attempt that reached nobody (a dialer's no_answer, a bounced e-mail)
-- has nobody to name: only a successful contact (outcome reached, or any
-- inbound contact) must say who was spoken to.
ALTER TABLE call_logs DROP CONSTRAINT call_logs_contact_name_check;
ALTER TABLE call_logs ADD CONSTRAINT call_logs_contact_name_check
  CHECK (contact_id IS NOT NULL OR contact_name IS NOT NULL OR (direction = 'outbound' AND outcome <> 'reached'));
