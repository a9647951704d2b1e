"""The contact book (issue 13): contacts, custom fields, groups (static and dynamic) and audience
resolution for campaigns.

Layout (imports flow downwards only; every module below is plain Python over ``smsdesk.data``):

* :mod:`smsdesk.crm.fields`   custom field definitions and the typing of their values (pure + repo);
* :mod:`smsdesk.crm.search`   search tokens of a contact and of a query (pure);
* :mod:`smsdesk.crm.timezones` a time zone derived from a number's country (pure, small table);
* :mod:`smsdesk.crm.rules`    dynamic group rules: the pydantic model and its evaluation (pure);
* :mod:`smsdesk.crm.contacts` create / read / update / delete / search contacts;
* :mod:`smsdesk.crm.groups`   static and dynamic groups, members, previews;
* :mod:`smsdesk.crm.audience` a selection (all / contacts / numbers / groups, with managers) resolved
  into deduplicated recipients and exclusions, streamed in pages.

The inbound path keeps using :mod:`smsdesk.contacts` (one contact per number, created with the first
conversation); the records are the same.
"""
