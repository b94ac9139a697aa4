// saml-idp's attribute configuration for the SSO tests (passed as --configFile, absolute path).
// `user` is the default asserted user; the tests post every field on the sign-in form anyway,
// since saml-idp copies posted fields into this object for the rest of the process's life.
// userName becomes the NameID; multiValue attributes are split on commas.
module.exports = {
  user: {
    userName: 'alice@example.com',
    nameIdFormat: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
    email: 'alice@example.com',
    firstName: 'Alice',
    lastName: 'Liddell',
    groups: 'users',
  },
  metadata: [
    { id: 'email', optional: false, displayName: 'E-Mail', description: 'email', multiValue: false },
    { id: 'firstName', optional: false, displayName: 'First Name', description: 'given name', multiValue: false },
    { id: 'lastName', optional: false, displayName: 'Last Name', description: 'surname', multiValue: false },
    { id: 'groups', optional: true, displayName: 'Groups', description: 'groups', multiValue: true },
  ],
};
