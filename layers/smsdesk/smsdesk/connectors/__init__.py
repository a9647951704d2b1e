"""SMS provider connectors behind one small interface (see ``base.Connector``)."""
